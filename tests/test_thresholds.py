"""The supervisor's attention limits and the wall display's colours: defaults, overrides, and a
clear refusal of anything else (the controller does not start on a wrong value)."""

from __future__ import annotations

import pytest

from callcenter import thresholds
from callcenter.config import ConfigError, Settings


def test_defaults_and_overrides():
    assert thresholds.attention(None) == {"long_call_s": 600, "long_break_s": 900,
                                          "missed_offers": 3}
    assert thresholds.attention('{"long_call_s": 300}')["long_call_s"] == 300
    wall = thresholds.wall('{"*": {"waiting": [2, 4]}, "vip": {"service_level": [0.9, 0.8]}}')
    assert wall["*"]["waiting"] == [2, 4] and wall["*"]["longest_wait_s"] == [60, 180]
    # A named queue starts from "*" and changes only what it names.
    assert thresholds.wall_for(wall, "vip") == {"waiting": [2, 4], "longest_wait_s": [60, 180],
                                                "service_level": [0.9, 0.8]}
    assert thresholds.wall_for(wall, "sales") == wall["*"]


@pytest.mark.parametrize("name, value, fragment", [
    ("CALLCENTER_ATTENTION", "{", "not JSON"),
    ("CALLCENTER_ATTENTION", "[1]", "JSON object"),
    ("CALLCENTER_ATTENTION", '{"long_lunch": 5}', "unknown key 'long_lunch'"),
    ("CALLCENTER_ATTENTION", '{"long_call_s": 0}', "above 0"),
    ("CALLCENTER_ATTENTION", '{"missed_offers": true}', "whole number"),
    ("CALLCENTER_WALL_THRESHOLDS", '{"*": 5}', "must be an object"),
    ("CALLCENTER_WALL_THRESHOLDS", '{"*": {"queue_size": [1, 2]}}', "unknown measure"),
    ("CALLCENTER_WALL_THRESHOLDS", '{"*": {"waiting": [10, 5]}}', "warn <= alert"),
    ("CALLCENTER_WALL_THRESHOLDS", '{"*": {"waiting": [1]}}', "two numbers"),
    ("CALLCENTER_WALL_THRESHOLDS", '{"a": {"service_level": [80, 60]}}', "fractions"),
    ("CALLCENTER_WALL_THRESHOLDS", '{"a": {"service_level": [0.6, 0.8]}}', "alert <= warn"),
])
def test_a_wrong_value_stops_the_start_naming_the_setting(tmp_path, name, value, fragment):
    env = {"CALLCENTER_INSTANCE_DIR": str(tmp_path), name: value}
    with pytest.raises(ConfigError, match=name) as refused:
        Settings.from_env(env)
    assert fragment in str(refused.value)


def test_settings_carry_them(tmp_path):
    settings = Settings.from_env({"CALLCENTER_INSTANCE_DIR": str(tmp_path),
                                  "CALLCENTER_ATTENTION": '{"long_break_s": 60}'})
    assert settings.attention["long_break_s"] == 60
    assert settings.wall_thresholds == thresholds.wall(None)
