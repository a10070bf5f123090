server:
  port: ${{ vars.HTTPS_PORT }}
  ssl:
    key-store: ${{ vars.TLS_KEYSTORE_PATH }}
    key-store-password: ${{ vars.TLS_KEYSTORE_PASSWORD }}
    key-store-type: PKCS12
spring:
  cloud:
    gateway:
      routes:
        - id: api
          uri: ${{ vars.ORDERS_API_URL }}
          predicates: [Path=/api/**]
        - id: web
          uri: ${{ vars.ORDERS_WEB_URL }}
          predicates: [Path=/**]
