"""The Train page in Korean (?lang=ko), driven through AppTest: a paused run, one Step, then the finished run with
every insight tab. No exception anywhere, the page's own words in Korean, each chart with its text alternative."""

from __future__ import annotations

import re
import time

from streamlit.testing.v1 import AppTest

from tests.helpers import run, tiny_form, train_page

HANGUL = re.compile("[가-힣]")


def captions(at: AppTest) -> str:
    return " | ".join(str(c.value) for c in at.main.caption)


def test_the_train_page_reads_in_korean_from_start_to_finish(ckpt_dir, started):
    at = train_page()
    at.query_params["lang"] = "ko"
    run(at)
    assert at.title[0].value == "Fashion-MNIST로 신경망 학습하기"
    assert at.button(key="train_start").label == "시작"
    controls = next(c for c in at.main.caption if c.value == "**학습 실행 조작**")
    assert "**시작**은" in controls.help and "**스텝**" in controls.help  # the buttons' "?"
    assert [at.button(key=f"train_{k}").label for k in ("pause", "resume", "stop")] == ["멈춤", "재개", "중지"]
    assert "학습 실행이 없습니다" in " ".join(i.value for i in at.info)
    assert any(m.value.startswith("| 층 | 모양 | 다음 처리 | 파라미터 |") for m in at.main.markdown)

    tiny_form(at, epochs=2)
    at.button(key="train_start").click()
    run(at)
    job = started[0]
    at.button(key="train_step").click()  # the job is held paused: one step, shown in the step panel
    run(at)
    deadline = time.monotonic() + 60  # a busy machine may take longer than the click's own wait to start the worker
    while job.snapshot().step_detail is None and time.monotonic() < deadline:
        time.sleep(0.1)
    run(at)
    assert at.button(key="train_step").label == "스텝"
    assert any(m.label == "스텝 전 배치 손실" for m in at.metric), [m.label for m in at.metric]
    assert "스텝 " in captions(at) and "맞게 예측했습니다" in captions(at)
    assert "일시정지됨" in str(at.get("progress")[0].proto.text)

    job.resume()
    assert job.join(120), "the tiny run did not finish in two minutes"
    run(at)
    assert job.snapshot().status == "done"
    assert "이제 이 모델이 활성 모델입니다" in " ".join(s.value for s in at.success)
    assert "에포크 2개 중 2: 테스트 정확도" in captions(at)
    assert [t.label for t in at.tabs] == ["클래스별", "첫 번째 층", "학습된 공간", "네트워크", "상태"]
    assert "가장 잘 배운 클래스는" in captions(at)
    for tab, words in (("첫 번째 층", "28 × 28 가중치 필터"), ("학습된 공간", "테스트 이미지 2,000장"),
                       ("네트워크", "층과 뉴런 수"), ("상태", "죽은 뉴런")):
        at.session_state["train_insight_tab"] = tab
        run(at)
        assert words in captions(at), (tab, captions(at))
        if tab == "네트워크":
            at.selectbox(key="train_net_unit_layer").set_value(1)
            run(at)
            assert "반응합니다" in captions(at) and "가장 강한 양의 가중치" in captions(at)
        english = [c.value for c in at.main.caption if c.value and not HANGUL.search(str(c.value))]
        assert not english, (tab, english)


def test_the_models_page_parts_of_this_side_read_in_korean(ckpt_dir):
    from fmnist.store import checkpoints

    ckpt = checkpoints.load(ckpt_dir / "default.safetensors")
    meta = {**ckpt.meta, "name": "other", "config": {**ckpt.meta["config"], "lr": 0.01}}
    checkpoints.save(ckpt_dir / "other.safetensors", ckpt.model(), meta)
    at = train_page()
    at.query_params["lang"] = "ko"
    run(at)
    at.switch_page("pages/models.py")
    run(at)
    at.multiselect(key="models_compare").set_value(["default", "other"])
    run(at)
    assert "설정" in list(at.dataframe[1].value.columns)
    # the confusion difference in words, its particles written for the names ("default가", not "default이(가)")
    assert "(가)" not in captions(at) and re.search("(default|other)가 ", captions(at))
    assert "테스트 이미지" in captions(at)
    assert "28 × 28 가중치 필터" in captions(at) and "층과 뉴런 수" in captions(at)
    assert [t.label for t in at.tabs][-2:] == ["네트워크", "상태"]
