"""Billing: the pricing core (`billing.pricing`), which prices a session with its station's
tariff. The retail / wholesale / reimbursement engines are not built yet."""
