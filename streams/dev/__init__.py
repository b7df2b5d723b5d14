"""Development support: the demo, the CDR simulator and the embedded servers. Nothing in production
imports this package."""
