"""The lesson images: what they are, building them offline, copying them between engines."""
