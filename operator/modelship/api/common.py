"""Building blocks shared by the resources: references, selectors, Prometheus, conditions."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, Literal, NamedTuple

from pydantic import Field, StringConstraints

from modelship.api.base import KubeModel
from modelship.api.types import URL, Duration, LabelName, ObjectName, ShortString

SecretKey = Annotated[str, StringConstraints(pattern=r"^[-._a-zA-Z0-9]+$", max_length=253)]
"""A key within a Secret's data."""


class SecretKeyRef(KubeModel):
    """A key of a Secret in the resource's own namespace, holding a bearer token."""

    name: ObjectName
    """The Secret's name."""
    key: SecretKey = "token"
    """The key within the Secret."""


class CASecretKeyRef(KubeModel):
    """A key of a Secret in the resource's own namespace, holding a PEM CA bundle."""

    name: ObjectName
    """The Secret's name."""
    key: SecretKey = "ca.crt"
    """The key within the Secret (`ca.crt`, as in the Secrets cert-manager and Kubernetes
    write)."""


class LocalObjectRef(KubeModel):
    """A reference to an object in the resource's own namespace."""

    name: ObjectName
    """The object's name."""


class LabelSelectorRequirement(KubeModel):
    """One label requirement: `key` `operator` `values`."""

    key: ShortString
    """The label key."""
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    """One of In, NotIn, Exists, DoesNotExist."""
    values: list[Annotated[str, StringConstraints(max_length=63)]] | None = Field(
        default=None, max_length=64
    )
    """The values, for In and NotIn."""


class LabelSelector(KubeModel):
    """A Kubernetes label selector (metav1.LabelSelector)."""

    match_labels: dict[str, Annotated[str, StringConstraints(max_length=63)]] | None = Field(
        default=None, max_length=32
    )
    """Labels that must all match."""
    match_expressions: list[LabelSelectorRequirement] | None = Field(default=None, max_length=16)
    """Requirements that must all hold."""


class IPBlock(KubeModel):
    """A CIDR range, with optional exceptions."""

    cidr: Annotated[str, StringConstraints(max_length=64)]
    """The range, e.g. 10.0.0.0/8."""
    except_: list[Annotated[str, StringConstraints(max_length=64)]] | None = Field(
        default=None, alias="except", max_length=16
    )
    """Ranges within `cidr` to exclude."""


class NetworkPeer(KubeModel):
    """Who may call the model (a NetworkPolicy peer)."""

    namespace_selector: LabelSelector | None = None
    """Namespaces whose pods may call the model."""
    pod_selector: LabelSelector | None = None
    """Pods (in the model's namespace, or in the selected namespaces) that may call it."""
    ip_block: IPBlock | None = None
    """Addresses that may call the model."""


class PrometheusTLS(KubeModel):
    """TLS settings for reaching Prometheus."""

    insecure_skip_verify: bool = False
    """Skip verifying Prometheus' certificate. For testing only."""
    ca_secret_ref: CASecretKeyRef | None = None
    """A Secret key holding the PEM CA bundle that signed Prometheus' certificate."""


class PrometheusConnection(KubeModel):
    """How to reach Prometheus. Unset, it is the operator's default Prometheus, with the
    operator's own token and CA files."""

    address: URL | None = None
    """Prometheus' base URL, e.g. http://prometheus.monitoring:9090. Defaults to the operator's
    `--prometheus-url`. The operator's `--prometheus-bearer-token-file` and
    `--prometheus-ca-file` are used only with that address, where this block sets no token or
    TLS of its own; another address gets only what this block sets."""
    timeout: Duration = "10s"
    """How long one query may take before its measurement counts as inconclusive."""
    bearer_token_secret_ref: SecretKeyRef | None = None
    """A Secret key holding a bearer token sent with every query."""
    tls: PrometheusTLS | None = None
    """TLS settings for https:// addresses."""


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(KubeModel):
    """One aspect of the resource's state, in the shape of Kubernetes' metav1.Condition."""

    type: Annotated[
        str,
        StringConstraints(
            pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
            r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$",
            max_length=316,
        ),
    ]
    """The aspect: Ready, Reconciling, Stalled, Progressing or Drifted."""
    status: ConditionStatus
    """True, False or Unknown."""
    reason: Annotated[
        str,
        StringConstraints(
            pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$", min_length=1, max_length=1024
        ),
    ]
    """A CamelCase word saying why the condition is as it is."""
    message: Annotated[str, StringConstraints(max_length=32768)] = ""
    """A sentence for people."""
    last_transition_time: datetime
    """When `status` last changed."""
    observed_generation: int | None = Field(default=None, ge=0)
    """The `.metadata.generation` the condition was computed from."""


Conditions = Annotated[list[Condition], Field(max_length=16)]


class Severity(StrEnum):
    """How far one score is on the drift side of its thresholds."""

    NONE = "none"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 none, 1 warning, 2 critical: for comparing severities (and the gauge's value)."""
        return ("none", "warning", "critical").index(self.value)


class DriftMethod(StrEnum):
    """Distribution statistics computed on binned counts (see docs/statistics.md)."""

    PSI = "psi"
    JENSEN_SHANNON = "jensenShannon"
    KULLBACK_LEIBLER = "kullbackLeibler"
    WASSERSTEIN = "wasserstein"
    KOLMOGOROV_SMIRNOV = "kolmogorovSmirnov"
    CHI2 = "chi2"


# Tests that yield p-values: a *lower* value means *more* drift, so a warning threshold sits
# above the critical one. The other methods are distances, where higher means more drift.
P_VALUE_METHODS = frozenset({DriftMethod.KOLMOGOROV_SMIRNOV, DriftMethod.CHI2})


class DefaultThresholds(NamedTuple):
    warning: float | None
    critical: float


# The one table of default thresholds per method: the API's defaults and modelship.stats read
# it. Plain floats, so the API stays free of numpy. Why these values: docs/statistics.md.
DEFAULT_THRESHOLDS: Mapping[DriftMethod, DefaultThresholds] = MappingProxyType(
    {
        DriftMethod.PSI: DefaultThresholds(warning=0.1, critical=0.2),
        DriftMethod.JENSEN_SHANNON: DefaultThresholds(warning=None, critical=0.1),
        DriftMethod.KULLBACK_LEIBLER: DefaultThresholds(warning=None, critical=0.1),
        DriftMethod.WASSERSTEIN: DefaultThresholds(warning=None, critical=0.1),
        DriftMethod.KOLMOGOROV_SMIRNOV: DefaultThresholds(warning=0.05, critical=0.01),
        DriftMethod.CHI2: DefaultThresholds(warning=0.05, critical=0.01),
    }
)


class MultipleTesting(StrEnum):
    """Correction of the p-values of one evaluation's p-value tests (see docs/statistics.md)."""

    NONE = "none"
    BONFERRONI = "bonferroni"
    BENJAMINI_HOCHBERG = "benjaminiHochberg"


DEFAULT_MULTIPLE_TESTING = MultipleTesting.BENJAMINI_HOCHBERG


class RejectReason(StrEnum):
    """Why a model server rejected an inference request: the `reason` label of
    `modelship_requests_rejected_total` (docs/metrics.md). A bounded set, so the family's
    cardinality never depends on traffic."""

    INVALID_JSON = "invalidJson"
    """The body is not JSON."""
    INVALID_REQUEST = "invalidRequest"
    """JSON, but not an Open Inference Protocol request (no inputs, an unknown datatype)."""
    UNKNOWN_MODEL = "unknownModel"
    """The path names another model or version (404)."""
    MISSING_FEATURE = "missingFeature"
    """A feature of the schema has no input."""
    UNKNOWN_FEATURE = "unknownFeature"
    """An input the schema does not know, or one given twice."""
    WRONG_TYPE = "wrongType"
    """A datatype the feature cannot take (BYTES for a number, a number for a category)."""
    WRONG_SHAPE = "wrongShape"
    """A shape that disagrees with the data or the other inputs, or an empty batch."""
    MISSING_VALUE = "missingValue"
    """A null or NaN value."""
    NOT_A_NUMBER = "notANumber"
    """Text where a number belongs, infinity, a number too large for a float."""
    NOT_INTEGER = "notInteger"
    """A fraction for an integer feature or datatype."""
    OUT_OF_RANGE = "outOfRange"
    """A value outside the range the profile enforces."""
    UNKNOWN_CATEGORY = "unknownCategory"
    """A category the profile does not list, for a feature that does not allow unknown ones."""
    UNKNOWN_OUTPUT = "unknownOutput"
    """An output the model cannot produce."""
    TOO_MANY_ROWS = "tooManyRows"
    """More rows than the server takes per request (--max-batch-rows)."""


__all__ = [
    "DEFAULT_MULTIPLE_TESTING",
    "DEFAULT_THRESHOLDS",
    "P_VALUE_METHODS",
    "CASecretKeyRef",
    "Condition",
    "ConditionStatus",
    "Conditions",
    "DefaultThresholds",
    "DriftMethod",
    "IPBlock",
    "LabelName",
    "LabelSelector",
    "LocalObjectRef",
    "MultipleTesting",
    "NetworkPeer",
    "PrometheusConnection",
    "PrometheusTLS",
    "RejectReason",
    "SecretKeyRef",
    "Severity",
]
