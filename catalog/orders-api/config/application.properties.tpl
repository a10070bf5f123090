server.port=${{ vars.HTTP_PORT }}
management.server.port=8091
management.endpoints.web.exposure.include=health,info,prometheus
spring.datasource.url=jdbc:postgresql://${{ vars.ORDERS_DB_HOST }}:${{ vars.ORDERS_DB_PORT }}/${{ vars.ORDERS_DB_NAME }}
spring.datasource.username=${{ vars.ORDERS_DB_USER }}
spring.datasource.password=${{ vars.ORDERS_DB_PASSWORD }}
spring.datasource.hikari.maximum-pool-size=20
# Schema changes ship as reviewed SQL scripts applied by the agent, never by the application.
spring.flyway.enabled=false
spring.jpa.hibernate.ddl-auto=validate
spring.data.redis.host=${{ vars.REDIS_HOST }}
spring.data.redis.port=${{ vars.REDIS_PORT }}
spring.data.redis.password=${{ vars.REDIS_PASSWORD }}
ferry.site=${{ site.name }}
ferry.release=${{ release.product }}-${{ release.version }}
