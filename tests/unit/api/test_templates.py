"""Pod and Job templates: free-form in the CRD, type-checked where the operator reads them."""

from __future__ import annotations

import re
from typing import Any

import pytest
from modelship.api.resources import MODEL_DEPLOYMENT, RETRAIN_POLICY
from modelship.api.validation import InvalidObjectError, parse_spec

MODEL = {"name": "fraud", "version": "1", "uri": "s3://models/fraud/1/"}
CONTAINER = {"name": "train", "image": "trainer:1"}


def deployment(template: Any) -> dict[str, Any]:
    return {"metadata": {"name": "fraud"},
            "spec": {"model": MODEL, "serving": {"template": template}}}  # fmt: skip


def policy(template: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p"},
            "spec": {"modelDeploymentRef": "fraud", "job": {"template": template},
                     "output": {"uri": "s3://models/{version}/"}}}  # fmt: skip


POD = "ModelDeployment"
JOB = "RetrainPolicy"


@pytest.mark.parametrize(
    ("kind", "template", "message"),
    [
        (POD, {"spec": None}, "spec.serving.template: spec must be an object, not null"),
        (POD, {"metadata": []}, "metadata must be an object, not a list"),
        (POD, {"spec": {"containers": {"name": "server"}}}, "spec.containers must be a list"),
        (POD, {"spec": {"containers": [1]}}, "spec.containers[0] must be an object, not a number"),
        (POD, {"spec": {"containers": [{"name": ["x"]}]}},
         "spec.containers[0].name must be a string"),
        (POD, {"spec": {"volumes": [{"name": "v", "secret": {"secretName": 3}}]}},
         "spec.volumes[0].secret.secretName must be a string, not a number"),
        (POD, {"spec": {"containers": [{"name": "s", "env": [{"name": "A", "valueFrom": "x"}]}]}},
         "spec.containers[0].env[0].valueFrom must be an object, not a string"),
        (POD, {"spec": {"serviceAccountName": True}}, "spec.serviceAccountName must be a string"),
        (JOB, {"spec": None}, "spec.job.template: spec must be an object, not null"),
        (JOB, {"spec": {"template": {"spec": {"containers": ["train"]}}}},
         "spec.template.spec.containers[0] must be an object, not a string"),
        (JOB, {"spec": {"template": {"spec": {"containers": [{**CONTAINER, "env": [None]}]}}}},
         "spec.template.spec.containers[0].env[0] must be an object, not null"),
    ],
)  # fmt: skip
def test_a_template_the_operator_cannot_read_is_refused_by_path(
    kind: str, template: Any, message: str
) -> None:
    resource, body = (MODEL_DEPLOYMENT, deployment) if kind == POD else (RETRAIN_POLICY, policy)
    with pytest.raises(InvalidObjectError, match=re.escape(message)):
        parse_spec(resource, body(template))


def test_what_kubernetes_checks_is_left_to_it() -> None:
    # Unknown fields and fields the operator does not read pass as written.
    pod = {"metadata": {"labels": {"team": "ml"}},
           "spec": {"tolerations": [{"key": "gpu"}], "nodeSelector": {"gpu": "true"},
                    "containers": [{"name": "server", "resources": {"limits": {"gpu": 1}}}],
                    "whatever": [1, None]}}  # fmt: skip
    spec = parse_spec(MODEL_DEPLOYMENT, deployment(pod))
    assert spec.serving.template == pod  # type: ignore[attr-defined]
    job = {"spec": {"backoffLimit": 0, "template": {"spec": {"containers": [CONTAINER]}}}}
    assert parse_spec(RETRAIN_POLICY, policy(job)).job.template == job  # type: ignore[attr-defined]
