"""The accounts the admin console tests sign in with."""

ADMIN = "chief"
PASSWORD = "Corr3ct-Horse!"
