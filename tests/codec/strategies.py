"""Hypothesis strategies for valid model objects: what a registration may carry.

Strings mix arbitrary unicode with the characters that trip XML and JSON writers up
(``<>&"'``, CR, LF, TAB, ``]]>``). Excluded only: what the readers refuse at registration
(characters XML 1.0 cannot carry, metadata keys that are not XML element names) and what is
lossy by design (empty optional strings read back as absent, app names read back upper-cased).
"""

from __future__ import annotations

from hypothesis import strategies as st

from eureka_embed.codec.readers import XML_NAME
from eureka_embed.model import (
    ActionType,
    Application,
    Applications,
    DataCenterInfo,
    InstanceInfo,
    InstanceStatus,
    LeaseInfo,
    PortInfo,
)

INT32 = st.integers(-(2**31), 2**31 - 1)
INT64 = st.integers(-(2**63), 2**63 - 1)

_XML_ILLEGAL = "".join(chr(c) for c in range(32) if c not in (9, 10, 13)) + "\ufffe\uffff"
_TRICKY = ["<", ">", "&", '"', "'", "\r", "\n", "\t", " ", "]]>", "&amp;", "$", "@", "é", "日本"]

chars = st.one_of(
    st.characters(exclude_categories=["Cs"], exclude_characters=_XML_ILLEGAL),
    st.sampled_from(_TRICKY),
)
text = st.lists(chars, max_size=8).map("".join)
non_blank = text.filter(lambda s: bool(s.strip()))
optional_text = st.none() | text.filter(bool)
app_names = non_blank.map(str.upper).filter(lambda s: s.upper() == s and bool(s.strip()))
metadata_keys = st.from_regex(XML_NAME, fullmatch=True).filter(lambda k: len(k) <= 30)
metadata = st.dictionaries(metadata_keys, text, max_size=4)
statuses = st.sampled_from(InstanceStatus)
ports = st.builds(PortInfo, st.integers(0, 65535), st.booleans())
lease_infos = st.builds(LeaseInfo, INT32, INT32, INT64, INT64, INT64, INT64)
data_centers = st.one_of(
    st.builds(DataCenterInfo, st.sampled_from(["MyOwn", "Netflix"])),
    st.builds(DataCenterInfo, st.just("Amazon"), metadata),
)


def instances(app: st.SearchStrategy[str] = app_names) -> st.SearchStrategy[InstanceInfo]:
    return st.builds(
        InstanceInfo,
        instance_id=non_blank,
        app=app,
        host_name=non_blank,
        ip_addr=non_blank,
        status=statuses,
        overridden_status=statuses,
        port=ports,
        secure_port=ports,
        country_id=INT32,
        data_center_info=data_centers,
        lease_info=lease_infos,
        metadata=metadata,
        sid=optional_text,
        app_group_name=optional_text,
        home_page_url=optional_text,
        status_page_url=optional_text,
        health_check_url=optional_text,
        secure_health_check_url=optional_text,
        vip_address=optional_text,
        secure_vip_address=optional_text,
        is_coordinating_discovery_server=st.booleans(),
        last_updated_timestamp=INT64,
        last_dirty_timestamp=INT64,
        action_type=st.none() | st.sampled_from(ActionType),
        asg_name=optional_text,
    )


@st.composite
def applications(draw: st.DrawFn) -> Application:
    name = draw(app_names)
    members = draw(st.lists(instances(st.just(name)), max_size=2))
    return Application(name, tuple(members))


registries = st.builds(
    Applications,
    st.lists(applications(), max_size=2).map(tuple),
    text.filter(bool),
    text,
)
