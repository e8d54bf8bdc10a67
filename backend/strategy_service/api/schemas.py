"""Request and response building blocks shared by every domain's HTTP models.

Money and quantities arrive as JSON numbers or strings and are parsed as exact ``Decimal``
(request bodies are decoded with ``parse_float=Decimal``, see ``routing.py``); they leave
as decimal strings, or as JSON numbers written from ``Decimal`` where a specification
shows numbers (:data:`JsonDecimal`). Unknown fields are refused (no mass assignment).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

#: Largest accepted quantity, notional or price: absurd values are refused, not stored.
MAX_AMOUNT = Decimal("1000000000000")  # 1e12

#: Identifiers chosen by clients (strategy ids, correlation ids...): printable, no '/'.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$"

PositiveAmount = Annotated[
    Decimal, Field(gt=0, le=MAX_AMOUNT, allow_inf_nan=False, max_digits=30, decimal_places=12)
]
ClientId = Annotated[str, Field(pattern=ID_PATTERN, max_length=128)]

#: A ``Decimal`` written as a JSON number with its exact digits (``12750.00``), never
#: through a binary float; OpenAPI says ``number``. Responses that use it are rendered
#: by ``DecimalJSONResponse``.
JsonDecimal = Annotated[Decimal, PlainSerializer(lambda v: v, return_type=Decimal), WithJsonSchema({"type": "number"})]


class Strict(BaseModel):
    """Base of request bodies: unknown fields refused, strings stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ErrorBody(BaseModel):
    """The one error shape of the API."""

    code: str = Field(description="Stable machine-readable code; the route's codes are listed in its description.")
    message: str = Field(description="A sentence a person understands.")
    request_id: str | None = Field(default=None, description="The request's id (X-Request-ID), also in the logs.")
    details: list[dict[str, object]] | None = Field(
        default=None, description="Field errors of a validation_error; absent otherwise.")


class ErrorResponse(BaseModel):
    """``{"error": {...}}``."""

    error: ErrorBody
