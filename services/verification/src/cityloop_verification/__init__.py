"""CityLoop verification service — 核查结案: the on-site check, closing and the call-back."""
