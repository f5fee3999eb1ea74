"""A lesson link in a real browser: the locked learning rate is shown but cannot be moved, the hidden optimizer is not
there, and both stay so (and in the address) after a visit to another page of the same session."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import goto, navigate, wait_idle

SLIDER = ".st-key-cfg_lr input[type='range']"


def test_a_lesson_link_locks_and_hides_settings_across_pages(page: Page, server):
    goto(page, f"{server.url}/?lr=0.003&lock=lr&hide=optimizer")
    slider = page.locator(SLIDER)
    expect(slider).to_have_attribute("aria-valuetext", "0.003")
    expect(page.locator(".st-key-cfg_optimizer")).to_have_count(0)
    expect(page.get_by_text("Set by your teacher")).to_be_visible()
    expect(slider).to_be_disabled()
    slider.press("ArrowRight")  # disabled: the key does nothing
    wait_idle(page)
    expect(slider).to_have_attribute("aria-valuetext", "0.003")
    expect(page.locator(".st-key-cfg_epochs input")).to_be_enabled()

    navigate(page, "Explore")
    navigate(page, "Train")
    expect(page.locator(SLIDER)).to_have_attribute("aria-valuetext", "0.003")
    expect(page.get_by_text("Set by your teacher")).to_be_visible()
    expect(page.locator(".st-key-cfg_optimizer")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"^(?=.*[?&]lock=lr)(?=.*[?&]hide=optimizer)"))


def test_a_playground_lesson_link_locks_and_hides_its_settings(page: Page, server):
    goto(page, f"{server.url}/?dataset=circles&lock=dataset&hide=l1,l2")  # the Playground's names: it stays at /
    dataset = page.locator(".st-key-dataset input")
    expect(dataset).to_have_value("circles")
    expect(dataset).to_be_disabled()
    expect(page.get_by_text("Set by your teacher")).to_be_visible()
    expect(page.locator(".st-key-l1")).to_have_count(0)
    expect(page.locator(".st-key-l2")).to_have_count(0)
    expect(page.locator(".st-key-noise input")).to_be_enabled()
    page.locator(".st-key-pg_lesson_depth button").first.click()  # the story's spirals: the locked dataset stays
    wait_idle(page)
    expect(dataset).to_have_value("circles")
    expect(page.locator(".st-key-hidden input")).to_have_value("8,8,8")
