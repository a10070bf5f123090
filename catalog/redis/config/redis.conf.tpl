bind 0.0.0.0
port ${{ vars.REDIS_PORT }}
requirepass ${{ vars.REDIS_PASSWORD }}
maxmemory ${{ vars.REDIS_MAXMEMORY }}
maxmemory-policy allkeys-lru
appendonly yes
dir ${{ vars.INSTALL_ROOT }}/redis/data
