"""One view class per operation; a URL that serves several methods combines them."""
