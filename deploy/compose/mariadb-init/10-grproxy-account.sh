# Sourced by the mariadb image's entrypoint on the first start (empty datadir): the account
# grproxy logs in with (its side connections, replay of other members' transactions, the
# binlog tap). It needs every privilege WITH GRANT OPTION to replay GRANTs. grproxy shares
# the container's network namespace, so it connects from 127.0.0.1.
grproxy_pw="$(cat /run/secrets/grproxy_password)"
docker_process_sql --database=mysql <<SQL
CREATE USER 'grproxy'@'127.0.0.1' IDENTIFIED BY '${grproxy_pw}';
GRANT ALL PRIVILEGES ON *.* TO 'grproxy'@'127.0.0.1' WITH GRANT OPTION;
SQL
unset grproxy_pw
