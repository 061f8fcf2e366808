from django.contrib import admin

from apps.tokens.models import Token


@admin.register(Token)
class TokenAdmin(admin.ModelAdmin):
    list_display = ["uid", "type", "contract_id", "visual_number", "valid", "whitelist", "tenant"]
    list_filter = ["type", "valid", "whitelist", "tenant"]
    search_fields = ["uid", "contract_id", "visual_number"]
