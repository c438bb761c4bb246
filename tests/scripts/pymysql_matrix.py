"""PyMySQL (text protocol) workload; prints a canonical transcript so the Rust test can
compare a run through the proxy with a direct run. Usage: pymysql_matrix.py HOST PORT DB"""
import sys
import decimal
import datetime

import pymysql

host, port, db = sys.argv[1], int(sys.argv[2]), sys.argv[3]
conn = pymysql.connect(host=host, port=port, user="root", password="", charset="utf8mb4",
                       autocommit=True, client_flag=pymysql.constants.CLIENT.MULTI_STATEMENTS)
cur = conn.cursor()
out = []
cur.execute(f"DROP DATABASE IF EXISTS {db}")
cur.execute(f"CREATE DATABASE {db}")
cur.execute(f"USE {db}")
cur.execute("""CREATE TABLE t (id INT PRIMARY KEY, b BLOB, d DECIMAL(20,6), dt DATE, ts DATETIME(6),
               tm TIME, n VARCHAR(10), u VARCHAR(100) CHARACTER SET utf8mb4, big BIGINT UNSIGNED)""")
rows = [
    (1, b"\x00\x01\xff" * 100, decimal.Decimal("12345678901234.123456"), datetime.date(2020, 2, 29),
     datetime.datetime(2021, 12, 31, 23, 59, 59, 999999), datetime.timedelta(hours=-5, minutes=3),
     None, "ünïcödé 中文 😀", 18446744073709551615),
    (2, b"", decimal.Decimal("-0.000001"), None, None, None, "x", "", 0),
    (3, None, None, datetime.date(1000, 1, 1), datetime.datetime(1970, 1, 1), datetime.timedelta(0),
     "'\"\\;", "a\nb\tc", 1),
]
n = cur.executemany("INSERT INTO t VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", rows)
out.append(("executemany", n, cur.lastrowid))
cur.execute("SELECT * FROM t ORDER BY id")
out.append(("desc", [(d[0], d[1]) for d in cur.description]))
out.append(("rows", cur.fetchall()))
cur.execute("SELECT COUNT(*), SUM(d), MAX(u) FROM t")
out.append(("agg", cur.fetchall()))
try:
    cur.execute("SELECT * FROM missing")
except pymysql.MySQLError as e:
    out.append(("error", e.args))
cur.execute("SELECT 1; SELECT 'two'")
sets = [cur.fetchall()]
while cur.nextset():
    sets.append(cur.fetchall())
out.append(("multi", sets))
conn.begin()
cur.execute("UPDATE t SET n = 'tx' WHERE id = 2")
out.append(("in tx affected", cur.rowcount))
conn.rollback()
cur.execute("SELECT n FROM t WHERE id = 2")
out.append(("after rollback", cur.fetchall()))
cur.execute(f"DROP DATABASE {db}")
conn.close()
for item in out:
    print(repr(item))
