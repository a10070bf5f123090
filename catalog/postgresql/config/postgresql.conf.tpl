# Rendered by Ferry for site ${{ site.name }}; local changes are overwritten on upgrade.
listen_addresses = '*'
port = ${{ vars.POSTGRES_PORT }}
max_connections = ${{ vars.POSTGRES_MAX_CONNECTIONS }}
shared_buffers = 512MB
wal_level = replica
password_encryption = scram-sha-256
logging_collector = on
log_min_duration_statement = 1000
