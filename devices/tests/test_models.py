"""Device thing names follow the contract: `sl-` + 12 lowercase hex characters
(docs/device-contract.md).

The thing name is the MQTT client id and the key of the IoT policy; a name off the contract
would give a light no way to connect.
"""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from devices.models import Device, validate_thing_name

CONTRACT = re.compile(r"sl-[0-9a-f]{12}")
MESSAGE = "A thing name is 'sl-' followed by 12 lowercase hex characters."


@pytest.mark.parametrize(
    "name",
    [
        "sl-0123456789AB",  # upper case
        "sl-0123456789a",  # 11 hex characters
        "sl-0123456789ag",  # not hex
        "SL-0123456789ab",
        "sl_0123456789ab",
        "xx-0123456789ab",
        "0123456789abcd",
        "sl-",
        " sl-0123456789a",
        "sl-0123456789a ",
    ],
)
def test_full_clean_rejects_a_thing_name_off_the_contract(home, name):
    device = Device(home=home, name="Lamp", thing_name=name)
    with pytest.raises(ValidationError) as caught:
        device.full_clean()
    assert caught.value.message_dict["thing_name"] == [MESSAGE]


@pytest.mark.parametrize("name", ["sl-0123456789abc", "sl-0123456789ab\n"])
def test_full_clean_rejects_a_thing_name_that_is_too_long(home, name):
    device = Device(home=home, name="Lamp", thing_name=name)
    with pytest.raises(ValidationError) as caught:
        device.full_clean()
    assert "thing_name" in caught.value.message_dict


def test_the_validator_alone_rejects_a_trailing_newline():
    with pytest.raises(ValidationError):
        validate_thing_name("sl-0123456789ab\n")


def test_full_clean_accepts_a_thing_name_on_the_contract(home):
    Device(home=home, name="Lamp", thing_name="sl-0123456789ab").full_clean()


def test_a_new_device_gets_a_thing_name_on_the_contract(home):
    device = Device.objects.create(home=home, name="Lamp")
    assert CONTRACT.fullmatch(device.thing_name)
    assert Device.objects.get(pk=device.pk).thing_name == device.thing_name
    device.full_clean()


def test_default_thing_names_are_unique(home):
    devices = [Device(home=home, name=f"L{n}") for n in range(500)]
    names = {d.thing_name for d in devices}
    assert len(names) == 500
    assert all(CONTRACT.fullmatch(name) for name in names)
    Device.objects.bulk_create(devices)
    assert Device.objects.values("thing_name").distinct().count() == 500


def test_a_thing_name_is_used_once_across_all_homes(home, charlies_home):
    Device.objects.create(home=home, name="Lamp", thing_name="sl-0123456789ab")
    other = Device(home=charlies_home, name="Lamp", thing_name="sl-0123456789ab")
    with pytest.raises(ValidationError) as caught:
        other.full_clean()
    assert "thing_name" in caught.value.message_dict
    with pytest.raises(IntegrityError), transaction.atomic():
        other.save()
    assert Device.objects.count() == 1


def test_saving_a_device_keeps_its_thing_name(home):
    device = Device.objects.create(home=home, name="Lamp")
    before = device.thing_name
    device.name = "Desk lamp"
    device.save()
    assert Device.objects.get(pk=device.pk).thing_name == before
