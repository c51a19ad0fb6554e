"""Configuration is documented: every setting appears in the README's reference table, and the
seller-terms file is read strictly."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest

from ondc_adapter.orders.policy import load_policy
from ondc_adapter.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `ONDC_([A-Z0-9_]+)` \|", readme, flags=re.M))
    expected = {name.upper() for name in Settings.model_fields}
    assert expected - documented == set(), "settings missing from README"
    assert documented - expected == set(), "README documents settings that do not exist"


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONDC_PATH_PREFIX", "ondc/")
    monkeypatch.setenv("ONDC_BPP_URI", "https://seller.example.in/ondc/")
    monkeypatch.setenv("ONDC_DOMAINS", '["ONDC:RET12"]')
    monkeypatch.setenv("ONDC_REGISTRY_ENV", "preprod")
    s = Settings(_env_file=None)
    assert s.path_prefix == "/ondc" and s.bpp_uri == "https://seller.example.in/ondc"
    assert s.domains == ["ONDC:RET12"]
    assert s.registry_public_key == "MCowBQYDK2VuAyEAa9Wbpvd9SsrpOZFcynyt/TO3x0Yrqyys4NUGIvyxX2Q="


def test_example_seller_terms_load() -> None:
    policy = load_policy(ROOT / "docs" / "seller-terms.example.json")
    assert policy.delivery_charge == Decimal("60.00")
    assert policy.settlement_type == "neft" and policy.np_tax_number == "09AAAAA0000A1Z5"
    assert policy.routing == "P2H2P"  # a Varanasi weaver's parcels go by courier
    # every account the file gives is sent; none is filled in from the samples
    detail = policy.settlement_details("Seller")[0]
    assert detail["upi_address"] == "seller-varanasi@sbi"
    assert detail["settlement_bank_account_no"] == "XXXXXXXXXXXX"


def test_seller_terms_accounts_are_never_samples(tmp_path: Path) -> None:
    path = tmp_path / "terms.json"
    path.write_text(json.dumps({"settlement_type": "upi", "upi_address": "shop@okbank"}))
    detail = load_policy(path).settlement_details("Shop")[0]
    assert detail["upi_address"] == "shop@okbank"
    assert "settlement_bank_account_no" not in detail  # no sample bank account


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"delivery_charg": "1"}, "unknown seller terms"),
        ({"delivery_charge": "abc"}, "decimal"),
        ({"auto_accept": "yes"}, "true or false"),
        ({"routing": "P2H", "upi_address": "shop@okbank"}, "routing must be one of"),
        ({"delivery_charge": "60.00"}, "needs \\['upi_address'\\]"),
        ({"settlement_type": "neft", "bank_account_no": "1"}, "needs"),
        ([1, 2], "JSON object"),
    ],
)
def test_bad_seller_terms_are_refused(tmp_path: Path, content: object, message: str) -> None:
    path = tmp_path / "terms.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ValueError, match=message):
        load_policy(path)



def test_seller_terms_required_off_the_sandbox(tmp_path: Path) -> None:
    from ondc_adapter.api.app import seller_extras

    with pytest.raises(ValueError, match="ONDC_SELLER_TERMS_FILE is required"):
        seller_extras(Settings(_env_file=None, registry_env="staging"))
    extras = seller_extras(
        Settings(
            _env_file=None, registry_env="prod",
            seller_terms_file=ROOT / "docs" / "seller-terms.example.json",
        )
    )
    assert extras["order_policy"].court_jurisdiction == "Varanasi"
    assert seller_extras(Settings(_env_file=None))["order_policy"].np_type == "MSN"
