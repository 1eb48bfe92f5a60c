"""DROP DATABASE of the database the dispatcher serves, with a batch in flight, on a
cluster of its own (the rest of the suite keeps its database)."""

import time

import psycopg2
import pytest

from conftest import Cluster, Mis, throwaway_cluster

PARENTS = [{"person_id": 1, "display_name": "Tom Baker", "wechat_userid": "tom.baker"},
           {"person_id": 2, "display_name": "陈静", "wechat_userid": "ChenJing"}]


@pytest.fixture
def own_cluster():
    with throwaway_cluster("mis_messaging_dropdb.", "mis_drop", extension=False) as directory:
        yield Cluster(directory)


def product(cluster):
    conn = cluster.connect()
    conn.cursor().execute("CREATE EXTENSION mis_messaging")
    mis = Mis(cluster, conn)
    mis.require("send", "worker", "configure_wecom")
    mis.set_params(retry_delay=100, request_timeout=2000)
    mis.add_people(PARENTS)
    return mis


def test_drop_database_mid_batch_is_quick_and_a_new_one_is_served(own_cluster, wecom):
    mis = product(own_cluster)
    mis.configure_wecom(wecom.url)
    wecom.control(fail_next=1, delay_ms=3000)
    mis.send("In flight", [1, 2], ["wechat"])
    time.sleep(0.3)
    mis.conn.close()

    admin = psycopg2.connect(own_cluster.dsn.replace("dbname=mis_drop", "dbname=postgres"))
    admin.autocommit = True
    log_before = len(own_cluster.server_log())
    started = time.time()
    admin.cursor().execute("DROP DATABASE mis_drop")
    assert time.time() - started < 5
    time.sleep(2)  # the worker waits quietly for its database
    admin.cursor().execute("CREATE DATABASE mis_drop")
    admin.close()

    mis = product(own_cluster)
    mis.configure_wecom(wecom.url)
    [dispatch] = mis.dispatch_ids(mis.send("After", [1, 2], ["wechat"]))
    mis.wait_settled([dispatch], timeout=30)
    assert mis.status_counts(dispatch) == {"complete": 2}
    log = own_cluster.server_log()[log_before:]
    assert log.count("exited with exit code") <= 2
    assert "terminated by signal" not in log
    mis.conn.close()

