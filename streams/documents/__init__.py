"""Documents for people: invoices (text, HTML, PDF) and statements (R20). Pure rendering."""
