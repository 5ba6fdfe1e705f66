"""Property-based tests (hypothesis) of normalization: fingerprints are deterministic and blind to
column order, row order and volatile columns; masking never leaks a host's own identity, never
touches values without it, and never crashes on hostile identities or values."""

from __future__ import annotations

import random
import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diffy_analysis.load import HostData, HostIdentity, HostRef, QueryStatus, RunInfo, open_results
from diffy_analysis.normalize import FleetIndex, IdentityMasker, build_fleet, default_config, row_fingerprint
from diffy_analysis.normalize.defaults import DEFAULT_RULES
from diffy_analysis.normalize.mask import NEVER_MASK
from tests.runbuilder import build_run

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RUN = RunInfo(path=Path("/nonexistent"), run_id="20261129T101500Z-props")

rows_of = st.lists(
    st.dictionaries(st.text(max_size=8), st.text(max_size=20), min_size=1, max_size=5), max_size=8
)


def _host(
    host_id: str, rows: dict[str, list[dict[str, str]]], identity: HostIdentity | None = None
) -> HostData:
    identity = identity or HostIdentity(host=host_id, host_id=host_id, hostname=host_id)
    return HostData(
        ref=HostRef(RUN, host_id, Path("/nonexistent") / host_id),
        identity=identity,
        queries={q: QueryStatus(q, "ok") for q in rows},
        rows=rows,
        texts={},
    )


@FAST
@given(
    st.text(max_size=10), st.dictionaries(st.text(max_size=8), st.text(max_size=20), max_size=6), st.randoms()
)
def test_fingerprint_is_deterministic_and_blind_to_column_order(query, row, rnd):
    items = list(row.items())
    rnd.shuffle(items)
    assert row_fingerprint(query, row) == row_fingerprint(query, dict(items))
    assert re.fullmatch(r"[0-9a-f]{32}", row_fingerprint(query, row))


@FAST
@given(st.text(max_size=20), st.text(max_size=20))
def test_different_rows_have_different_fingerprints(a, b):
    if a != b:
        assert row_fingerprint("q", {"c": a}) != row_fingerprint("q", {"c": b})


PROCESS = st.fixed_dictionaries(
    {"name": st.text(max_size=8), "path": st.text(max_size=12), "cmdline": st.text(max_size=12)}
)
VOLATILE = DEFAULT_RULES["processes"]["ignore"]


@FAST
@given(st.lists(PROCESS, min_size=1, max_size=8, unique_by=lambda r: tuple(r.values())), st.randoms())
def test_profiles_are_blind_to_row_order_and_volatile_columns(processes, rnd: random.Random):
    def with_noise(rows):
        return [{**r, **{col: str(rnd.randrange(10**6)) for col in VOLATILE}} for r in rows]

    shuffled = list(processes)
    rnd.shuffle(shuffled)
    index = FleetIndex(config=default_config())
    a = index.add(_host("a", {"processes": with_noise(processes)}))
    b = index.add(_host("b", {"processes": with_noise(shuffled)}))
    assert a.profile == b.profile
    c = index.add(_host("c", {"processes": with_noise(processes[1:])}))
    assert c.profile != a.profile  # a row fewer is a different profile


@FAST
@given(st.dictionaries(st.text(max_size=6), rows_of, max_size=4))
def test_any_rows_can_be_indexed(tables):
    # enough hosts for automatic volatile-column detection to run
    index = build_fleet([_host(f"h{i}", tables) for i in range(6)], default_config()).index
    assert len(index.hosts) == 6 and len({h.profile for h in index.hosts}) == 1


# -- masking --------------------------------------------------------------------------------------

# Identity tokens from letters a-p and digits; filler text from q-z and separators only, so filler
# can never form (part of) an identity token by accident.
hostnames = st.from_regex(r"[a-p][a-p0-9]{2,10}(-[a-p0-9]{1,6})?", fullmatch=True)
octet = st.integers(0, 255).map(str)
ipv4s = st.tuples(octet, octet, octet, octet).map(".".join)
macs = st.lists(st.integers(0, 255).map("{:02x}".format), min_size=6, max_size=6).map(":".join)
instance_ids = st.from_regex(r"i-[0-9a-f]{8,17}", fullmatch=True)
filler = st.from_regex(r"[q-z]{0,6}", fullmatch=True)
SEPARATORS = " /=,;\"'()[]@\t"


@st.composite
def identity_and_value(draw):
    identity = HostIdentity(
        host="h",
        host_id="h",
        hostname=draw(hostnames),
        instance_id=draw(instance_ids),
        ipv4=tuple(draw(st.lists(ipv4s, max_size=2))),
        mac=tuple(draw(st.lists(macs, max_size=2))),
    )
    tokens = [identity.hostname, identity.instance_id, *identity.ipv4, *identity.mac]
    tokens = [t for t in tokens if len(t) >= 3 and t.lower() not in NEVER_MASK]
    parts = draw(st.lists(st.sampled_from(tokens) | filler, max_size=8)) if tokens else []
    cased = [p.upper() if draw(st.booleans()) else p for p in parts]
    seps = draw(st.lists(st.sampled_from(SEPARATORS), min_size=len(cased), max_size=len(cased)))
    value = "".join(p + s for p, s in zip(cased, seps, strict=True))
    return identity, tokens, value


PLACEHOLDER = re.compile(r"<(hostname|instance_id|ipv4|ipv6|mac)>")


@FAST
@given(identity_and_value())
def test_masking_never_leaks_the_hosts_own_identity(case):
    identity, tokens, value = case
    masked = IdentityMasker.for_host(identity).mask(value)
    rest = PLACEHOLDER.sub(" ", masked).lower()
    for token in tokens:
        assert token.lower() not in rest, (value, masked, token)


@FAST
@given(identity_and_value(), st.lists(filler, max_size=6))
def test_masking_leaves_values_without_identity_alone(case, words):
    identity, _tokens, _value = case
    value = " ".join(words)
    assert IdentityMasker.for_host(identity).mask(value) == value


@FAST
@given(identity_and_value())
def test_masking_is_deterministic_and_stable(case):
    identity, _tokens, value = case
    masker = IdentityMasker.for_host(identity)
    once = masker.mask(value)
    assert once == masker.mask(value) == IdentityMasker.for_host(identity).mask(value)
    assert masker.mask(once) == once


hostile_text = st.text(max_size=40) | st.sampled_from([".*", "(", "\\", "[a-", "$", "\x00", "İ", "ß", "K"])


@FAST
@given(
    st.lists(
        st.tuples(st.sampled_from(["hostname", "instance_id", "ipv4", "ipv6", "mac"]), hostile_text),
        max_size=5,
    ),
    st.lists(hostile_text, max_size=5),
)
def test_hostile_identities_and_values_never_crash_and_agree_with_the_regex(tokens, values):
    """A host chooses its own hostname: regex metacharacters, NUL, case-changing characters. Masking
    must not crash, and its fast path must agree with the plain regex definition."""
    masker = IdentityMasker(tokens)
    for value in values:
        got = masker.mask(value)
        assert isinstance(got, str)
        oracle = masker._compiled().sub(lambda m: masker._placeholders[m.lastgroup or ""], value)
        assert got == oracle, (tokens, value)


# -- masking through the reader (load text filter) keeps the column names ---------------------------

column_names = st.sampled_from(
    ["name", "path", "shell", "username", "cmdline", "address", "source", "device"]
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(column_names, st.lists(st.text(alphabet="abcxyz /-", max_size=12), min_size=1, max_size=4))
def test_a_host_named_like_a_column_keeps_its_columns(hostname, values):
    """Masking is for values: a clean host that happens to be called "shell" or "name" must not
    have its column names replaced (every row would then differ from its peers')."""
    rows = [{hostname: v, "other": f"{v} on {hostname}"} for v in values]
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = build_run(Path(tmp), {"h1": {"q": rows}}, identities={"h1": {"hostname": hostname}})
        index = FleetIndex(config=default_config())
        (host,) = list(index.read(open_results([run_dir])))
    got = host.rows["q"]
    assert [set(r) for r in got] == [set(r) for r in rows]
    assert all(r["other"].endswith(" on <hostname>") for r in got)
