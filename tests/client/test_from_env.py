"""``DiscoveryConfig.from_env``: Spring's variable names, every one read, each bad value named;
``prefer_ip_address`` and the identity headers in what a client sends."""

from __future__ import annotations

import pytest

from eureka_embed.client import DiscoveryClient, DiscoveryConfig, TransportConfig
from eureka_embed.client.spring_env import SETTINGS, InvalidEnvironment
from eureka_embed.model import InstanceStatus
from tests.client.support import LoopbackServer, Reply, Seen, wait_until

EVERY_VARIABLE = {
    "SPRING_APPLICATION_NAME": "ignored-as-appname-wins",
    "EUREKA_INSTANCE_APPNAME": "orders",
    "EUREKA_INSTANCE_INSTANCE_ID": "orders-7",
    "EUREKA_INSTANCE_HOSTNAME": "orders.example",
    "EUREKA_INSTANCE_IP_ADDRESS": "10.1.2.3",
    "EUREKA_INSTANCE_PREFER_IP_ADDRESS": "true",
    "SERVER_PORT": "9000",
    "EUREKA_INSTANCE_NON_SECURE_PORT": "9001",
    "EUREKA_INSTANCE_NON_SECURE_PORT_ENABLED": "false",
    "EUREKA_INSTANCE_SECURE_PORT": "9443",
    "EUREKA_INSTANCE_SECURE_PORT_ENABLED": "TRUE",
    "EUREKA_INSTANCE_VIRTUAL_HOST_NAME": "orders-vip",
    "EUREKA_INSTANCE_SECURE_VIRTUAL_HOST_NAME": "orders-svip",
    "EUREKA_INSTANCE_HOME_PAGE_URL": "https://orders.example/",
    "EUREKA_INSTANCE_STATUS_PAGE_URL": "https://orders.example/info",
    "EUREKA_INSTANCE_HEALTH_CHECK_URL": "https://orders.example/health",
    "EUREKA_INSTANCE_INITIAL_STATUS": "starting",
    "EUREKA_INSTANCE_LEASE_RENEWAL_INTERVAL_IN_SECONDS": "5",
    "EUREKA_INSTANCE_LEASE_EXPIRATION_DURATION_IN_SECONDS": "15",
    "EUREKA_INSTANCE_METADATAMAP_ZONE": "zone-b",
    "EUREKA_INSTANCE_METADATAMAP_WEIGHT": "3",
    "EUREKA_CLIENT_SERVICEURL_DEFAULTZONE": "http://a:8761/eureka/",
    "EUREKA_CLIENT_SERVICEURL_ZONE-B": "http://b:8761/eureka/",
    "EUREKA_CLIENT_REGISTER_WITH_EUREKA": "no",
    "EUREKA_CLIENT_FETCH_REGISTRY": "off",
    "EUREKA_CLIENT_REGISTRY_FETCH_INTERVAL_SECONDS": "7.5",
    "EUREKA_CLIENT_INSTANCE_INFO_REPLICATION_INTERVAL_SECONDS": "11",
    "EUREKA_CLIENT_INITIAL_INSTANCE_INFO_REPLICATION_INTERVAL_SECONDS": "0",
    "EUREKA_CLIENT_HEARTBEAT_EXECUTOR_EXPONENTIAL_BACK_OFF_BOUND": "4",
    "EUREKA_CLIENT_CACHE_REFRESH_EXECUTOR_EXPONENTIAL_BACK_OFF_BOUND": "6",
    "EUREKA_CLIENT_DISABLE_DELTA": "1",
    "EUREKA_CLIENT_FILTER_ONLY_UP_INSTANCES": "false",
    "EUREKA_CLIENT_FETCH_REMOTE_REGIONS_REGISTRY": "us-east-1, eu-west-1",
    "EUREKA_CLIENT_EUREKA_SERVER_CONNECT_TIMEOUT_SECONDS": "2",
    "EUREKA_CLIENT_EUREKA_SERVER_READ_TIMEOUT_SECONDS": "3",
    "EUREKA_CLIENT_EUREKA_SERVER_TOTAL_CONNECTIONS_PER_HOST": "9",
    "EUREKA_CLIENT_G_ZIP_CONTENT": "false",
}


def test_every_variable_sets_its_setting() -> None:
    config = DiscoveryConfig.from_env(EVERY_VARIABLE)

    assert config == DiscoveryConfig(
        app_name="orders",
        instance_id="orders-7",
        host_name="orders.example",
        ip_addr="10.1.2.3",
        prefer_ip_address=True,
        port=9001,
        port_enabled=False,
        secure_port=9443,
        secure_port_enabled=True,
        vip_address="orders-vip",
        secure_vip_address="orders-svip",
        home_page_url="https://orders.example/",
        status_page_url="https://orders.example/info",
        health_check_url="https://orders.example/health",
        initial_status=InstanceStatus.STARTING,
        lease_renewal_interval_s=5,
        lease_duration_s=15,
        metadata={"zone": "zone-b", "weight": "3"},
        zone="zone-b",
        service_urls={"defaultZone": "http://a:8761/eureka/", "zone-b": "http://b:8761/eureka/"},
        register_with_eureka=False,
        fetch_registry=False,
        registry_fetch_interval_s=7.5,
        instance_info_replication_interval_s=11,
        initial_delay_s=0,
        heartbeat_backoff_bound=4,
        fetch_backoff_bound=6,
        disable_delta=True,
        filter_only_up_instances=False,
        fetch_regions=("us-east-1", "eu-west-1"),
        transport=TransportConfig(
            connect_timeout_s=2, read_timeout_s=3, max_connections_per_host=9, gzip=False
        ),
    )
    # Every setting of the table is in the test's environment, in one form or the other.
    for setting in SETTINGS:
        assert any(v in EVERY_VARIABLE for v in setting.variables), setting.prop


def test_spring_boot_canonical_names_and_defaults_for_what_is_unset() -> None:
    config = DiscoveryConfig.from_env(
        {
            "SPRING_APPLICATION_NAME": "payments",
            "EUREKA_INSTANCE_PREFERIPADDRESS": "true",
            "EUREKA_CLIENT_SERVICEURL_DEFAULTZONE": "http://eureka:8761/eureka/",
            "EUREKA_CLIENT_EUREKASERVERREADTIMEOUTSECONDS": "4",
            "EUREKA_INSTANCE_HOSTNAME": "",  # set but empty, as compose files leave it
        },
        port=7000,
        transport=TransportConfig(max_tries=5),
    )
    assert (config.app_name, config.prefer_ip_address, config.port) == ("payments", True, 7000)
    assert config.service_urls == "http://eureka:8761/eureka/"
    assert config.host_name is None
    assert config.transport == TransportConfig(max_tries=5, read_timeout_s=4)


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("EUREKA_INSTANCE_PREFER_IP_ADDRESS", "maybe", "true or false"),
        ("EUREKA_INSTANCE_NON_SECURE_PORT_ENABLED", "", "true or false"),
        ("SERVER_PORT", "http", "whole number"),
        ("EUREKA_INSTANCE_SECURE_PORT", "70000", "0..65535"),
        ("EUREKA_INSTANCE_LEASE_RENEWAL_INTERVAL_IN_SECONDS", "0", "positive number of seconds"),
        ("EUREKA_INSTANCE_LEASE_EXPIRATION_DURATION_IN_SECONDS", "nan", "positive number"),
        ("EUREKA_CLIENT_REGISTRY_FETCH_INTERVAL_SECONDS", "30s", "positive number of seconds"),
        ("EUREKA_CLIENT_INITIAL_INSTANCE_INFO_REPLICATION_INTERVAL_SECONDS", "-1", ">= 0"),
        ("EUREKA_CLIENT_HEARTBEAT_EXECUTOR_EXPONENTIAL_BACK_OFF_BOUND", "0", "at least 1"),
        ("EUREKA_CLIENT_EUREKA_SERVER_TOTAL_CONNECTIONS_PER_HOST", "many", "whole number"),
        ("EUREKA_INSTANCE_INITIAL_STATUS", "HAPPY", "instance status"),
        ("EUREKA_CLIENT_SERVICEURL_DEFAULTZONE", "http://u:secret@a:port/eureka/", "bad Eureka"),
        ("EUREKA_CLIENT_SERVICEURL_DEFAULTZONE", " , ", "no service URL"),
    ],
)
def test_a_bad_value_is_a_typed_error_naming_the_variable(
    variable: str, value: str, reason: str
) -> None:
    with pytest.raises(InvalidEnvironment, match=reason) as raised:
        DiscoveryConfig.from_env({"SPRING_APPLICATION_NAME": "orders", variable: value})
    assert raised.value.variable == variable
    assert str(raised.value).startswith(f"{variable}: ")
    assert "secret" not in str(raised.value)


def test_both_forms_set_apart_and_no_app_name_are_errors_too() -> None:
    with pytest.raises(InvalidEnvironment, match="both set") as raised:
        DiscoveryConfig.from_env(
            {
                "SPRING_APPLICATION_NAME": "orders",
                "EUREKA_INSTANCE_PREFERIPADDRESS": "true",
                "EUREKA_INSTANCE_PREFER_IP_ADDRESS": "false",
            }
        )
    assert raised.value.variable == "EUREKA_INSTANCE_PREFERIPADDRESS"
    with pytest.raises(InvalidEnvironment) as raised:
        DiscoveryConfig.from_env({"SERVER_PORT": "80"})
    assert raised.value.variable == "SPRING_APPLICATION_NAME"
    # The same value under both names is no conflict.
    same = {
        "SPRING_APPLICATION_NAME": "a",
        "SERVER_PORT": "1",
        "EUREKA_INSTANCE_NONSECUREPORT": "2",
    }
    assert DiscoveryConfig.from_env(same).port == 2


def test_prefer_ip_address_registers_the_ip_as_host_name_and_keeps_springs_instance_id() -> None:
    base = DiscoveryConfig("orders", host_name="orders.example", ip_addr="10.1.2.3", port=8081)
    plain = base.build_instance(0)
    assert (plain.host_name, plain.instance_id) == ("orders.example", "orders.example:orders:8081")

    preferred = DiscoveryConfig(
        "orders", host_name="orders.example", ip_addr="10.1.2.3", port=8081, prefer_ip_address=True
    ).build_instance(0)
    assert (preferred.host_name, preferred.ip_addr) == ("10.1.2.3", "10.1.2.3")
    assert preferred.instance_id == "orders.example:orders:8081"


def test_the_identity_headers_go_with_every_request_to_the_server() -> None:
    seen: list[Seen] = []

    def forward(request: Seen) -> Reply:
        seen.append(request)
        return Reply(503)  # every request shows its headers; the client just retries

    recorder = LoopbackServer(forward).start()
    try:
        config = DiscoveryConfig(
            "orders",
            service_urls=recorder.url,
            host_name="127.0.0.1",
            ip_addr="10.9.8.7",
            watch=False,
            transport=TransportConfig(max_tries=1),
        )
        with DiscoveryClient(config):
            wait_until(lambda: len(seen) >= 2, what="register and fetch")
    finally:
        recorder.stop()
    methods = {r.method for r in seen}
    assert {"POST", "GET", "DELETE"} <= methods
    for request in seen:
        assert request.headers["discoveryidentity-name"] == "DefaultClient"
        assert request.headers["discoveryidentity-version"] == "1.4"
        assert request.headers["discoveryidentity-id"] == "10.9.8.7"
