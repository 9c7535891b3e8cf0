"""The tutor: what a person types turned into a reply, the hands-on side, housekeeping."""
