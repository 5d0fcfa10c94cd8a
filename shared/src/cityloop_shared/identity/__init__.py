"""Who is acting: signed tokens (JWT) of a site's own issuer or of a trusted one, the site's
public keys (JWKS), and the check of the actor against the reference data."""
