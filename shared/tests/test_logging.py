"""A log line says where and why a record was refused, never the personal data it held."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cityloop_shared.contract.values import PublicReporter
from cityloop_shared.logging import without_inputs

PHONE = "13912345678"


def test_a_validation_error_in_a_log_line_keeps_the_field_not_the_input() -> None:
    with pytest.raises(ValidationError) as refused:
        PublicReporter(name="韩梅梅", phone=PHONE * 4)
    reason = str(refused.value)
    assert PHONE in reason  # what pydantic says, before the line is rendered

    line = without_inputs(None, "warning", {"event": "dead_letter", "reason": reason, "n": 1})

    assert PHONE not in line["reason"]
    assert "phone" in line["reason"]
    assert "at most 40 characters" in line["reason"]
    assert "input_value=(withheld), input_type=str" in line["reason"]
    assert (line["event"], line["n"]) == ("dead_letter", 1)
