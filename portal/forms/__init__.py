"""The portal's forms: what each page accepts, its validation and its messages (the domain's
own rules stay in the apps' services and the pricing core, whose problems the forms place
on the field they name)."""
