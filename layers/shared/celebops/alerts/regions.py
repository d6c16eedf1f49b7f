"""Region codes from the region names CloudWatch puts in alarm notifications.

Notifications carry `Region` as a display name, in the new style ("US East (N. Virginia)") or the
old one ("US - N. Virginia", "EU - Ireland"). Console links need the code, so the ARN is read first
(it always holds the code) and the name is only a fallback.
"""

from __future__ import annotations

import re
import unicodedata

# The place part of a region's display name: in brackets in the new style, after " - " in the old.
_PLACES: dict[str, str] = {
    "n virginia": "us-east-1",
    "ohio": "us-east-2",
    "n california": "us-west-1",
    "oregon": "us-west-2",
    "us-west": "us-gov-west-1",
    "us-east": "us-gov-east-1",
    "central": "ca-central-1",
    "calgary": "ca-west-1",
    "sao paulo": "sa-east-1",
    "ireland": "eu-west-1",
    "london": "eu-west-2",
    "paris": "eu-west-3",
    "frankfurt": "eu-central-1",
    "zurich": "eu-central-2",
    "stockholm": "eu-north-1",
    "milan": "eu-south-1",
    "spain": "eu-south-2",
    "tokyo": "ap-northeast-1",
    "seoul": "ap-northeast-2",
    "osaka": "ap-northeast-3",
    "singapore": "ap-southeast-1",
    "sydney": "ap-southeast-2",
    "jakarta": "ap-southeast-3",
    "melbourne": "ap-southeast-4",
    "malaysia": "ap-southeast-5",
    "thailand": "ap-southeast-7",
    "mumbai": "ap-south-1",
    "hyderabad": "ap-south-2",
    "hong kong": "ap-east-1",
    "taipei": "ap-east-2",
    "bahrain": "me-south-1",
    "uae": "me-central-1",
    "tel aviv": "il-central-1",
    "cape town": "af-south-1",
    "mexico": "mx-central-1",
    "central mexico": "mx-central-1",
    "beijing": "cn-north-1",
    "ningxia": "cn-northwest-1",
}

_CODE = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_ARN_REGION = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:([a-z0-9-]+):")


def _normalise(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(ascii_text.replace(".", " ").lower().split())


def region_from_arn(arn: str | None) -> str | None:
    """Return the region code of an ARN, or None when the ARN has none (or is not an ARN)."""
    if not arn:
        return None
    match = _ARN_REGION.match(arn)
    if match is None or not match.group(1):
        return None
    return match.group(1)


def region_from_name(name: str | None) -> str | None:
    """Return the region code for a display name in either style, a code as is, or None if unknown."""
    if not name:
        return None
    text = name.strip()
    if _CODE.match(text):
        return text
    bracketed = re.search(r"\(([^)]*)\)", text)
    if bracketed:
        place = bracketed.group(1)
    elif " - " in text:
        place = text.rsplit(" - ", 1)[1]
    else:
        place = text
    return _PLACES.get(_normalise(place))


def resolve_region(arn: str | None, name: str | None) -> str | None:
    """Return the region code from the ARN, else from the display name."""
    return region_from_arn(arn) or region_from_name(name)
