-- Staging for app users: the raw e-mail never leaves landing. Analysts match customers across
-- systems on a SHA-256 of the normalised address instead.
SELECT
    id,
    public_id,
    to_hex(sha256(to_utf8(lower(trim(email))))) AS email_sha256,
    full_name,
    country,
    signup_channel,
    marketing_opt_in,
    preferences,
    created_at,
    updated_at
FROM landing.postgres__users
