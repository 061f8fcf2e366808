"""Billing: the pricing core and the retail / wholesale / reimbursement engines."""
