"""PyMySQL and mysql-connector-python through single-primary secondaries (tests/single_primary.rs).

Usage: split_clients.py <secondary port> <other secondary port> <user> <password>

Each driver, with its defaults (autocommit off, so every session is pinned to the primary
from its first statement) and with autocommit on (split: writes on the primary, reads here):
writes through one secondary, reads its own writes in the same session, and a session on the
other secondary with consistency BEFORE sees them at once. Prints one line per check; exits
non-zero at the first failure. mysql-connector runs its pure-Python protocol (use_pure): its C
extension 9.1 fails to connect to MariaDB 10.11 with auth_plugin set, directly too.
"""
import sys

import mysql.connector
import pymysql

port_a, port_b, user, password = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]


def connect(driver, port, autocommit):
    if driver == "pymysql":
        return pymysql.connect(host="127.0.0.1", port=port, user=user, password=password,
                               database="sp", autocommit=autocommit)
    return mysql.connector.connect(host="127.0.0.1", port=port, user=user, password=password,
                                   database="sp", autocommit=autocommit, ssl_disabled=True,
                                   auth_plugin="mysql_native_password", use_pure=True)


def check(what, got, want):
    if got != want:
        print(f"FAIL {what}: got {got!r}, want {want!r}")
        sys.exit(1)
    print(f"ok {what}")


base = 1000
for driver in ("pymysql", "connector"):
    for autocommit in (False, True):
        base += 100
        a = connect(driver, port_a, autocommit)
        cur = a.cursor()
        for i in range(5):
            cur.execute("INSERT INTO t (id, s, by_member) VALUES (%s, %s, %s)", (base + i, f"{driver} {i}", 0))
        if not autocommit:
            a.commit()
        # Its own writes, in the same session.
        cur.execute("SELECT COUNT(*) FROM t WHERE id BETWEEN %s AND %s", (base, base + 4))
        check(f"{driver} autocommit={autocommit} reads its own writes", cur.fetchone()[0], 5)
        cur.execute("UPDATE t SET s = 'updated' WHERE id = %s", (base,))
        if not autocommit:
            a.commit()
        check(f"{driver} autocommit={autocommit} rowcount", cur.rowcount, 1)
        # A transaction rolled back leaves nothing.
        a.begin() if driver == "pymysql" else a.start_transaction()
        cur.execute("INSERT INTO t (id, s, by_member) VALUES (%s, 'rolled back', 0)", (base + 50,))
        a.rollback()
        # Another secondary, consistency BEFORE: the writes are there.
        b = connect(driver, port_b, True)
        bc = b.cursor()
        bc.execute("SET group_replication_consistency = 'BEFORE'")
        bc.execute("SELECT COUNT(*), SUM(s = 'updated'), SUM(id = %s) FROM t WHERE id BETWEEN %s AND %s",
                   (base + 50, base, base + 50))
        row = tuple(int(x or 0) for x in bc.fetchone())
        check(f"{driver} autocommit={autocommit} BEFORE on another member", row, (5, 1, 0))
        b.close()
        a.close()
print("done")
