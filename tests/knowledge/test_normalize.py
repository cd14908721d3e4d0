"""Normalisation: what residents type becomes comparable text, and nothing they type breaks it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from knowledge.intent import asks_something, pleads
from knowledge.normalize import clean, normalise
from knowledge.phonetic import fold


def sounds(text: str) -> tuple[str, ...]:
    return normalise(text).tokens


def test_traditional_full_width_and_case_are_folded() -> None:
    assert clean("請問物業費怎麼繳？") == "请问物业费怎么缴?"
    assert clean("ＷＩＦＩ　密码") == "wifi 密码"


def test_synonyms_and_dialect_are_rewritten_from_the_data_tables() -> None:
    assert normalise("管理费咋交").text == normalise("物业费怎么交").text
    assert normalise("电瓶车在哪冲电").text == normalise("电动车哪里充电").text


def test_fillers_go_but_question_words_stay() -> None:
    text = normalise("那个我想问一下啊就是物业费怎么交呀").text
    assert text == "物业费怎么交"
    assert "哪里" in normalise("请问快递站在哪里").text


def test_homophone_slips_sound_the_same() -> None:
    assert sounds("物叶费") == sounds("物业费") == sounds("五业费")
    assert sounds("停车卫") == sounds("停车位")
    assert sounds("管里费在哪交") == sounds("物业费在哪交")  # a slip inside a synonym is caught too


def test_fuzzy_initials_and_finals() -> None:
    assert fold("zhang") == fold("zan") == "zan"
    assert fold("shi") == "si" and fold("ning") == fold("lin")


def test_invisible_control_and_bidi_characters_are_dropped() -> None:
    assert clean("物\u200b业\u202e费\x00!") == clean("物业费")


def test_emoji_and_punctuation_only_become_nothing() -> None:
    assert normalise("🌞🌞👍").tokens == ()
    assert normalise("。。。！！") .tokens == ()
    assert clean("") == ""


def test_english_is_stemmed_and_mapped() -> None:
    assert sounds("Where do I put the rubbish?") == sounds("where put garbage")
    assert sounds("the lifts") == sounds("elevator")
    assert sounds("mgmt office") == sounds("management office")
    assert sounds("visiting guests") == sounds("visitor visitor")
    assert sounds("is it recyclable") == sounds("is it recycled")


def test_english_phrasal_verbs_become_one_word() -> None:
    assert sounds("the dryer doesn't work") == sounds("dryer broken")
    assert sounds("the heater is out of order") == sounds("heater broken")
    assert sounds("lights went out upstairs") == sounds("light outage upstairs")
    assert sounds("who can pick up my medicine") == sounds("who collect medicine")
    assert sounds("they switched the heating on") != sounds("heating connect")  # not split phrases
    assert sounds("upset offspring") != sounds("connect offspring")  # whole words only: "set up" is not in "upset"
    assert sounds("we are still waiting, they said so too") == sounds("waiting said")  # English stop words


def test_a_message_asks_something_or_not() -> None:
    for text in ["物叶费在哪交啊", "电梯坏了找谁", "我想办居住证", "快递到了没", "how do I pay?", "Can I park here"]:
        assert asks_something(clean(text)), text
    for text in ["早上好各位邻居🌞", "物业今天把草坪修得真好看", "物业费怎么这么贵", "谢谢大家", "Thanks all"]:
        assert not asks_something(clean(text)), text


def test_few_and_rhetorical_why_are_no_questions_but_a_dropped_subject_request_is() -> None:
    for text in ["快递站我去了好几次都关着", "那几个保安大哥人真好", "过几天就开学了", "停个车搞这么复杂干嘛",
                 "为什么这么慢", "谁又在楼道里堆纸箱了", "谁这么缺德乱扔垃圾"]:
        assert not asks_something(clean(text)), text
    for text in ["想办个停车月卡", "想在阳台装个晾衣架", "Can the kids play in the courtyard"]:
        assert asks_something(clean(text)), text


def test_a_predicament_is_a_plea_a_remark_is_not() -> None:
    for text in ["钥匙落家里了进不去", "快递柜里的东西不见了", "I'm locked out of my flat", "my bike was stolen"]:
        assert pleads(clean(text)), text
    for text in ["电梯又坏了", "停电了好热😩", "门禁卡找到了，谢谢大家", "the elevator is so slow today"]:
        assert not pleads(clean(text)), text


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_normalises_without_error(text: str) -> None:
    analysis = normalise(text)
    assert len(analysis.tokens) == len(analysis.surface) == len(analysis.starts)


def test_a_very_long_message_is_cut_not_choked_on() -> None:
    analysis = normalise("物业费" * 1500)
    assert 0 < len(analysis.tokens) <= 600


def test_a_homophone_rewrite_does_not_cut_a_real_word() -> None:
    assert "显示" in normalise("快递显示签收了").text  # not 快递箱 (快递柜) + 示
    assert "物业费" in normalise("管里费在哪交").text


def test_everyday_words_read_as_the_knowledge_base_words() -> None:
    assert normalise("充电桩收钱吗").text == normalise("充电桩收费吗").text
    assert normalise("修门禁要钱吗").text == normalise("修门禁收费吗").text
    assert "挡住" in normalise("车被堵死了").text
    assert normalise("快递员进不来").text == normalise("快递员进不了").text
    assert "租房" in normalise("房子租给学生了").text
    assert normalise("学校饭堂").text == normalise("学校食堂").text
    assert normalise("厨房失火了").text == normalise("厨房着火了").text


def test_a_word_ending_in_neng_keeps_it() -> None:
    # 能 is rewritten to 可以 (能交吗 = 可以交吗), never inside a word: 太阳能 is no 太阳可以.
    assert "太阳能" in normalise("楼顶能装太阳能板吗").text
    assert "节能" in normalise("节能灯在哪换").text
    assert "可以" in normalise("能交吗").text


def test_english_questions_in_the_middle_and_cries_for_help() -> None:
    for text in ["my toilet is blocked, can someone fix it", "got a weird call, is it a scam", "stuck in the lift help"]:
        assert asks_something(clean(text)), text
    for text in ["thanks everyone for the help", "感谢物业师傅帮我修好了水管"]:
        assert not asks_something(clean(text)), text


def test_taiwan_and_hong_kong_wording_becomes_mainland_wording() -> None:
    assert clean("寬頻要怎麼申請") == "宽带要怎么申请"  # a Taiwan phrase, not only its characters
    assert clean("衞生間") == "卫生间"  # a Hong Kong variant character
    assert normalise("瓦斯費在哪繳").text == normalise("燃气费在哪交").text
    assert normalise("想當志工").text == normalise("想当志愿者").text


def test_cantonese_is_rewritten_and_asks() -> None:
    assert normalise("喺邊度搵物業").text == normalise("在哪里找物业").text
    assert normalise("水費點樣交").text == normalise("水费怎么交").text
    assert asks_something(clean("管理費幾多錢"))
    assert asks_something(clean("係咪要登記"))


def test_written_cantonese_becomes_mandarin_words() -> None:
    assert normalise("佢哋喺屋苑入面執到銀包").text == normalise("他们在小区里面捡到钱包").text
    assert normalise("唔使搵管理處").text == normalise("不用找物业").text
    assert normalise("聽日搬屋").text == normalise("明天搬家").text  # 明天 is a filler, gone on both sides
    assert normalise("電梯整好咗").text == normalise("电梯弄好了").text
    assert normalise("聯繫管理處").text == normalise("联系物业").text  # 係 is 是, 联系 is protected
    assert normalise("係唔係要預約").text == normalise("是不是要预约").text
    for text in ["邊間公司最平", "泊車幾錢", "呢度可唔可以養狗㗎", "使唔使交按金"]:
        assert asks_something(clean(text)), text


def test_the_lexicon_has_no_key_twice() -> None:
    """A canonical word listed twice in YAML silently drops the first list (it happened)."""
    from collections import Counter

    import yaml

    from knowledge.lexicon import LEXICON_PATH

    def check(node: yaml.Node) -> None:
        if isinstance(node, yaml.MappingNode):
            keys = Counter(k.value for k, _ in node.value)
            assert not [k for k, n in keys.items() if n > 1]
            for _, value in node.value:
                check(value)

    check(yaml.compose(LEXICON_PATH.read_text(encoding="utf-8")))


def test_an_alternative_question_asks_and_cantonese_lift_is_a_lift() -> None:
    assert asks_something(clean("是只有我们单元停水还是全小区都停了"))
    assert not asks_something(clean("我还是觉得今天的活动挺好"))
    assert "电梯" in normalise("部𨋢停咗").text


def test_everyday_cantonese_and_mandarin_variants_reach_the_knowledge_base_words() -> None:
    assert "吵" in normalise("樓上成晚好嘈").text and "整晚" in normalise("樓上成晚好嘈").text
    assert "挡住" in normalise("有架车横在出口").text
    assert "转账" in normalise("对方叫我汇款").text


def test_an_emoji_that_names_a_thing_is_read_as_its_word() -> None:
    assert clean("🛗停了？") == "电梯 停了?"
    assert clean("谢谢👍😄") == "谢谢"
    assert clean("🧯过期了") == "灭火器 过期了"
    assert "停车位" in clean("🅿️还有空的吗")


def test_english_phrases_for_visits_and_blocked_cars_become_one_word() -> None:
    assert "_visitor" in normalise("my parents are coming over this weekend").tokens
    assert "_block" in normalise("a van double parked next to my car").tokens


def test_an_emoji_right_after_its_own_word_is_not_read_twice() -> None:
    assert clean("家里漏水了💧") == "家里漏水了"
    assert clean("🚗挡在门口") == "车 挡在门口"  # nothing before it to repeat: read as its word
    assert clean("车主不在🚗").count("车") == 2  # 车 of 车主 is too far back to be the same word


def test_an_elderly_card_a_car_in_the_way_and_a_friend_coming_reach_the_entry_words() -> None:
    assert "老年卡" in normalise("我爸的长者证丢了").text
    assert "挡住" in normalise("有个面包车挡我了").text
    assert "访客" in normalise("周六朋友过来吃饭").text


def test_voice_context_of_hurry_and_moving_in_is_dropped() -> None:
    assert "出门" not in normalise("急着出门电梯一直不来").text
    assert "上班" not in normalise("赶着上班门禁刷不开").text
    assert "搬家" not in normalise("刚搬进来宽带怎么开通").text


def test_english_time_words_are_not_topic_words() -> None:
    tokens = normalise("the lift stopped again today, since yesterday actually").tokens
    assert not {"_today", "_yesterday", "_since"} & set(tokens)
    assert "_elevator" in tokens


def test_the_question_particle_么_survives_the_conversion_to_simplified() -> None:
    assert clean("可以用微信交么") == "可以用微信交么"
    assert clean("可以用微信交麼") == "可以用微信交么"  # traditional 麼
    assert clean("电话是幺幺零") == "电话是幺幺零"  # 幺 as "one" stays
