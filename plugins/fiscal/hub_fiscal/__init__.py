"""Fiscal Directorate delivery (fiscal acts and fines, signed JSON) and the follow-up of items
delivered to departments, subordinate institutions and companies."""
