"""Request bodies in the shapes real Eureka clients send, each decoded into the expected model.

The bodies are written by hand after each client's documented or observed output:
- Netflix eureka-client (Jersey): JSON from its Jackson codec (string ``$``, ``overriddenstatus``,
  ``@class`` everywhere) and XML from XStream (pretty-printed, ``<overriddenstatus>``).
- Spring Cloud Netflix: Jackson with nulls for unset fields, boolean ``@enabled``, numeric
  timestamps, ``isCoordinatingDiscoveryServer`` as a boolean, ``overriddenStatus`` camel-cased.
- eureka-js-client: bare integer port, no ``@class``, no instanceId, no status.
- py_eureka_client: JSON (``Content-Type: application/json``), ``overriddenstatus``, integer
  ``$`` with string ``@enabled``, string timestamps, ``""`` for an unset secureHealthCheckUrl,
  ``management.port`` in metadata.
- An instance on AWS: AmazonInfo with its EC2 metadata and no instanceId of its own.
"""

from __future__ import annotations

from eureka_embed.codec import (
    WireFormat,
    decode_application,
    decode_applications,
    decode_instance,
)
from eureka_embed.model import (
    DataCenterInfo,
    InstanceStatus,
    LeaseInfo,
    PortInfo,
)

NOW = 1_712_957_999_000

JERSEY_JSON = b"""{"instance":{"instanceId":"host1:orders:8080","hostName":"host1","app":"ORDERS",
"ipAddr":"10.0.0.5","sid":"na","status":"UP","overriddenstatus":"UNKNOWN",
"port":{"$":"8080","@enabled":"true"},"securePort":{"$":"443","@enabled":"false"},
"countryId":1,"dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo",
"name":"MyOwn"},"leaseInfo":{"renewalIntervalInSecs":30,"durationInSecs":90,
"registrationTimestamp":0,"lastRenewalTimestamp":0,"evictionTimestamp":0,"serviceUpTimestamp":0},
"metadata":{"@class":"java.util.Collections$EmptyMap"},"homePageUrl":"http://host1:8080/",
"statusPageUrl":"http://host1:8080/Status","healthCheckUrl":"http://host1:8080/healthcheck",
"vipAddress":"orders","secureVipAddress":"orders","isCoordinatingDiscoveryServer":"false",
"lastUpdatedTimestamp":"1712957014863","lastDirtyTimestamp":"1712957014800"}}"""

JERSEY_XML = b"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<instance>
  <instanceId>host2:orders:8081</instanceId>
  <hostName>host2</hostName>
  <app>ORDERS</app>
  <ipAddr>10.0.0.6</ipAddr>
  <status>STARTING</status>
  <overriddenstatus>OUT_OF_SERVICE</overriddenstatus>
  <port enabled="true">8081</port>
  <securePort enabled="false">7002</securePort>
  <countryId>1</countryId>
  <dataCenterInfo class="com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo">
    <name>MyOwn</name>
  </dataCenterInfo>
  <leaseInfo>
    <renewalIntervalInSecs>10</renewalIntervalInSecs>
    <durationInSecs>30</durationInSecs>
    <registrationTimestamp>0</registrationTimestamp>
    <lastRenewalTimestamp>0</lastRenewalTimestamp>
    <evictionTimestamp>0</evictionTimestamp>
    <serviceUpTimestamp>0</serviceUpTimestamp>
  </leaseInfo>
  <metadata>
    <zone>us-east-1c</zone>
    <jmx.port>7199</jmx.port>
  </metadata>
  <homePageUrl>http://host2:8081/</homePageUrl>
  <statusPageUrl>http://host2:8081/Status</statusPageUrl>
  <healthCheckUrl>http://host2:8081/healthcheck</healthCheckUrl>
  <vipAddress>orders</vipAddress>
  <isCoordinatingDiscoveryServer>false</isCoordinatingDiscoveryServer>
  <lastUpdatedTimestamp>1712957014863</lastUpdatedTimestamp>
  <lastDirtyTimestamp>1712957014801</lastDirtyTimestamp>
</instance>
"""

SPRING_JSON = b"""{"instance":{"instanceId":"192.168.1.10:orders-service:8080",
"app":"ORDERS-SERVICE","appGroupName":null,"ipAddr":"192.168.1.10","sid":"na","homePageUrl":"http://192.168.1.10:8080/",
"statusPageUrl":"http://192.168.1.10:8080/actuator/info",
"healthCheckUrl":"http://192.168.1.10:8080/actuator/health","secureHealthCheckUrl":null,
"vipAddress":"orders-service","secureVipAddress":"orders-service","countryId":1,
"dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"},
"hostName":"192.168.1.10","status":"UP","overriddenStatus":"UNKNOWN",
"leaseInfo":{"renewalIntervalInSecs":30,"durationInSecs":90,"registrationTimestamp":0,
"lastRenewalTimestamp":0,"evictionTimestamp":0,"serviceUpTimestamp":0},
"isCoordinatingDiscoveryServer":false,"metadata":{"management.port":"8080"},
"lastUpdatedTimestamp":1712957014863,"lastDirtyTimestamp":1712957014862,"actionType":null,
"asgName":null,"port":{"$":8080,"@enabled":true},"securePort":{"$":443,"@enabled":false}}}"""

EUREKA_JS_JSON = b"""{"instance":{"app":"jqservice","hostName":"localhost","ipAddr":"127.0.0.1",
"port":8080,"securePort":{"$":8443,"@enabled":true},"vipAddress":"jq.test.something.com",
"dataCenterInfo":{"name":"MyOwn"}}}"""

PY_EUREKA_CLIENT_JSON = b"""{"instance": {"instanceId": "10.0.0.7:py-svc:5000",
"hostName": "py-host", "app": "PY-SVC", "ipAddr": "10.0.0.7",
"port": {"$": 5000, "@enabled": "true"}, "securePort": {"$": 443, "@enabled": "false"},
"countryId": 1, "dataCenterInfo": {"@class":
"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo", "name": "MyOwn"},
"leaseInfo": {"renewalIntervalInSecs": 30, "durationInSecs": 90, "registrationTimestamp": 0,
"lastRenewalTimestamp": 0, "evictionTimestamp": 0, "serviceUpTimestamp": 0},
"metadata": {"management.port": "5000"}, "homePageUrl": "http://py-host:5000/",
"statusPageUrl": "http://py-host:5000/info", "healthCheckUrl": "http://py-host:5000/health",
"secureHealthCheckUrl": "", "vipAddress": "py-svc", "secureVipAddress": "py-svc",
"isCoordinatingDiscoveryServer": "false", "status": "UP", "overriddenstatus": "UNKNOWN",
"lastUpdatedTimestamp": "1712957014863", "lastDirtyTimestamp": "1712957014863"}}"""

AMAZON_JSON = b"""{"instance":{"hostName":"ip-10-1-2-3.ec2.internal","app":"BILLING",
"ipAddr":"10.1.2.3","status":"UP","port":{"$":8080,"@enabled":"true"},
"dataCenterInfo":{"@class":"com.netflix.appinfo.AmazonInfo","name":"Amazon",
"metadata":{"instance-id":"i-0abc123","ami-id":"ami-42","instance-type":"t3.micro",
"local-ipv4":"10.1.2.3","local-hostname":"ip-10-1-2-3.ec2.internal",
"availability-zone":"us-east-1a","public-hostname":"ec2-3-3-3-3.compute-1.amazonaws.com",
"public-ipv4":"3.3.3.3","mac":"0a:1b:2c:3d:4e:5f","vpc-id":"vpc-1","accountId":"123456789012"}},
"metadata":{"@class":"java.util.Collections$EmptyMap"},"lastDirtyTimestamp":"1712957014000"}}"""

AMAZON_XML = b"""<instance>
  <hostName>ip-10-1-2-4.ec2.internal</hostName>
  <app>billing</app>
  <ipAddr>10.1.2.4</ipAddr>
  <status>UP</status>
  <port enabled="true">8080</port>
  <dataCenterInfo class="com.netflix.appinfo.AmazonInfo">
    <name>Amazon</name>
    <metadata>
      <instance-id>i-0def456</instance-id>
      <availability-zone>us-east-1b</availability-zone>
    </metadata>
  </dataCenterInfo>
  <metadata class="java.util.Collections$EmptyMap"/>
</instance>"""


def test_jersey_json() -> None:
    info = decode_instance(JERSEY_JSON, WireFormat.JSON, now_ms=NOW)
    assert info.instance_id == "host1:orders:8080"
    assert (info.app, info.host_name, info.ip_addr, info.sid) == (
        "ORDERS",
        "host1",
        "10.0.0.5",
        "na",
    )
    assert info.status is InstanceStatus.UP
    assert info.overridden_status is InstanceStatus.UNKNOWN
    assert info.port == PortInfo(8080, True)
    assert info.secure_port == PortInfo(443, False)
    assert info.data_center_info == DataCenterInfo("MyOwn")
    assert info.lease_info == LeaseInfo(30, 90, 0, 0, 0, 0)
    assert dict(info.metadata) == {}
    assert info.status_page_url == "http://host1:8080/Status"
    assert info.secure_health_check_url is None
    assert (info.vip_address, info.secure_vip_address) == ("orders", "orders")
    assert info.is_coordinating_discovery_server is False
    assert info.last_updated_timestamp == 1712957014863
    assert info.last_dirty_timestamp == 1712957014800
    assert info.action_type is None


def test_jersey_xml() -> None:
    info = decode_instance(JERSEY_XML, WireFormat.XML, now_ms=NOW)
    assert info.instance_id == "host2:orders:8081"
    assert info.status is InstanceStatus.STARTING
    assert info.overridden_status is InstanceStatus.OUT_OF_SERVICE
    assert info.port == PortInfo(8081, True)
    assert info.secure_port == PortInfo(7002, False)
    assert info.data_center_info == DataCenterInfo("MyOwn")
    assert info.lease_info == LeaseInfo(10, 30, 0, 0, 0, 0)
    assert dict(info.metadata) == {"zone": "us-east-1c", "jmx.port": "7199"}
    assert info.home_page_url == "http://host2:8081/"
    assert info.sid is None
    assert info.last_dirty_timestamp == 1712957014801


def test_jersey_xml_with_camel_case_override() -> None:
    body = JERSEY_XML.replace(b"overriddenstatus>", b"overriddenStatus>")
    info = decode_instance(body, WireFormat.XML, now_ms=NOW)
    assert info.overridden_status is InstanceStatus.OUT_OF_SERVICE


def test_spring_cloud_json() -> None:
    info = decode_instance(SPRING_JSON, WireFormat.JSON, now_ms=NOW)
    assert info.instance_id == "192.168.1.10:orders-service:8080"
    assert info.app == "ORDERS-SERVICE"
    assert info.app_group_name is None
    assert info.secure_health_check_url is None
    assert info.overridden_status is InstanceStatus.UNKNOWN
    assert info.port == PortInfo(8080, True)
    assert info.secure_port == PortInfo(443, False)
    assert info.is_coordinating_discovery_server is False
    assert dict(info.metadata) == {"management.port": "8080"}
    assert info.last_updated_timestamp == 1712957014863
    assert info.last_dirty_timestamp == 1712957014862
    assert info.action_type is None
    assert info.asg_name is None


def test_spring_cloud_json_with_null_override() -> None:
    body = SPRING_JSON.replace(b'"overriddenStatus":"UNKNOWN"', b'"overriddenStatus":null')
    assert body != SPRING_JSON
    info = decode_instance(body, WireFormat.JSON, now_ms=NOW)
    assert info.overridden_status is InstanceStatus.UNKNOWN


def test_eureka_js_client_json() -> None:
    info = decode_instance(EUREKA_JS_JSON, WireFormat.JSON, now_ms=NOW)
    assert info.instance_id == "localhost"  # no instanceId: the host name stands in
    assert info.app == "JQSERVICE"
    assert info.status is InstanceStatus.UP
    assert info.port == PortInfo(8080, True)
    assert info.secure_port == PortInfo(8443, True)
    assert info.data_center_info == DataCenterInfo("MyOwn")
    assert info.vip_address == "jq.test.something.com"
    assert info.last_dirty_timestamp == NOW
    assert info.sid is None


def test_py_eureka_client_json() -> None:
    info = decode_instance(PY_EUREKA_CLIENT_JSON, WireFormat.JSON, now_ms=NOW)
    assert info.instance_id == "10.0.0.7:py-svc:5000"
    assert (info.app, info.host_name) == ("PY-SVC", "py-host")
    assert info.overridden_status is InstanceStatus.UNKNOWN
    assert info.port == PortInfo(5000, True)
    assert info.secure_port == PortInfo(443, False)
    assert info.secure_health_check_url is None  # sent as ""
    assert info.health_check_url == "http://py-host:5000/health"
    assert dict(info.metadata) == {"management.port": "5000"}
    assert info.last_dirty_timestamp == 1712957014863


def test_amazon_json_takes_the_ec2_instance_id() -> None:
    info = decode_instance(AMAZON_JSON, WireFormat.JSON, now_ms=NOW)
    assert info.instance_id == "i-0abc123"
    assert info.data_center_info.name == "Amazon"
    assert info.data_center_info.metadata["availability-zone"] == "us-east-1a"
    assert info.data_center_info.metadata["accountId"] == "123456789012"
    assert len(info.data_center_info.metadata) == 11
    assert dict(info.metadata) == {}


def test_amazon_xml_takes_the_ec2_instance_id() -> None:
    info = decode_instance(AMAZON_XML, WireFormat.XML, now_ms=NOW)
    assert info.instance_id == "i-0def456"
    assert info.app == "BILLING"
    assert dict(info.data_center_info.metadata) == {
        "instance-id": "i-0def456",
        "availability-zone": "us-east-1b",
    }


# What servers answer: a Netflix server's registry in XML (the default for clients that send no
# Accept header, such as py_eureka_client), and an older server's JSON with lone objects.

NETFLIX_APPS_XML = b"""<applications>
  <versions__delta>1</versions__delta>
  <apps__hashcode>STARTING_1_UP_1_</apps__hashcode>
  <application>
    <name>ORDERS</name>
    <instance>
      <instanceId>host1:orders:8080</instanceId>
      <hostName>host1</hostName>
      <app>ORDERS</app>
      <ipAddr>10.0.0.5</ipAddr>
      <status>UP</status>
      <overriddenstatus>UNKNOWN</overriddenstatus>
      <port enabled="true">8080</port>
      <securePort enabled="false">443</securePort>
      <countryId>1</countryId>
      <dataCenterInfo class="com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo">
        <name>MyOwn</name>
      </dataCenterInfo>
      <leaseInfo>
        <renewalIntervalInSecs>30</renewalIntervalInSecs>
        <durationInSecs>90</durationInSecs>
        <registrationTimestamp>1712957014900</registrationTimestamp>
        <lastRenewalTimestamp>1712957044900</lastRenewalTimestamp>
        <evictionTimestamp>0</evictionTimestamp>
        <serviceUpTimestamp>1712957014500</serviceUpTimestamp>
      </leaseInfo>
      <metadata class="java.util.Collections$EmptyMap"/>
      <vipAddress>orders</vipAddress>
      <isCoordinatingDiscoveryServer>false</isCoordinatingDiscoveryServer>
      <lastUpdatedTimestamp>1712957014900</lastUpdatedTimestamp>
      <lastDirtyTimestamp>1712957014800</lastDirtyTimestamp>
      <actionType>ADDED</actionType>
    </instance>
    <instance>
      <instanceId>host2:orders:8080</instanceId>
      <hostName>host2</hostName>
      <app>ORDERS</app>
      <ipAddr>10.0.0.6</ipAddr>
      <status>STARTING</status>
      <overriddenstatus>UNKNOWN</overriddenstatus>
      <port enabled="true">8080</port>
      <dataCenterInfo class="com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo">
        <name>MyOwn</name>
      </dataCenterInfo>
      <lastDirtyTimestamp>1712957014801</lastDirtyTimestamp>
      <actionType>MODIFIED</actionType>
    </instance>
  </application>
</applications>"""

OLD_SERVER_APPS_JSON = b"""{"applications":{"versions__delta":1,"apps__hashcode":"UP_1_",
"application":{"name":"ORDERS","instance":{"instanceId":"host1:orders:8080","hostName":"host1",
"app":"ORDERS","ipAddr":"10.0.0.5","status":"UP","overriddenstatus":"UNKNOWN",
"port":{"$":8080,"@enabled":"true"},"dataCenterInfo":{
"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"},
"lastDirtyTimestamp":"1712957014800","actionType":"ADDED"}}}}"""


def test_netflix_registry_xml() -> None:
    registry = decode_applications(NETFLIX_APPS_XML, WireFormat.XML, now_ms=NOW)
    assert (registry.version, registry.apps_hashcode) == ("1", "STARTING_1_UP_1_")
    (orders,) = registry.applications
    assert orders.name == "ORDERS"
    first, second = orders.instances
    assert first.lease_info.last_renewal_timestamp == 1712957044900
    assert first.lease_info.service_up_timestamp == 1712957014500
    assert first.action_type is not None and first.action_type.value == "ADDED"
    assert second.status is InstanceStatus.STARTING
    assert second.last_dirty_timestamp == 1712957014801


def test_old_server_json_with_lone_objects() -> None:
    registry = decode_applications(OLD_SERVER_APPS_JSON, WireFormat.JSON, now_ms=NOW)
    assert registry.version == "1"  # a number on the wire
    (orders,) = registry.applications
    (only,) = orders.instances
    assert only.instance_id == "host1:orders:8080"


def test_application_payload_with_one_instance_object() -> None:
    body = b'{"application":{"name":"orders","instance":{"hostName":"h","ipAddr":"1.2.3.4",' + (
        b'"dataCenterInfo":{"name":"MyOwn"}}}}'
    )
    app = decode_application(body, WireFormat.JSON, now_ms=NOW)
    assert app.name == "ORDERS"
    (only,) = app.instances
    assert (only.instance_id, only.app) == ("h", "ORDERS")  # app taken from the application
