"""Court and bailiff feeds — skeleton until its issue lands."""
