SELECT 1 FROM tokens WHERE token_hash = $token_hash
