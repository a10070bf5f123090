server {
    listen ${{ vars.WEB_PORT }};
    server_name ${{ vars.SERVER_NAME }};
    root ${{ vars.WEB_ROOT }}/orders-web/current;
    index index.html;

    # Hashed assets never change; the page itself must always be revalidated.
    location /assets/ {
        expires 1y;
        add_header Cache-Control "public, immutable";
    }
    location / {
        try_files $uri $uri/ /index.html;
        add_header Cache-Control "no-cache";
    }
}
