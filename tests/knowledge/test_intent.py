"""What asks nothing though it looks like a question: social invitations, rhetorical clauses, amount frames."""

from __future__ import annotations

import pytest

from knowledge import Decision, Matcher
from knowledge.intent import asks_something, pleads, unasked
from knowledge.normalize import clean


@pytest.mark.parametrize(
    "text",
    [
        "失眠了，有没有人陪我聊会儿",
        "周末有人一起打羽毛球吗",
        "今晚三缺一，谁来打麻将",
        "好无聊啊，有人出来玩不",
        "大家吃饭了没",
        "anyone up for badminton this weekend?",
        "bored at home, anybody want to grab a coffee",
        # rhetorical clauses
        "难道电梯坏了三天也没人修吗",
        "凭什么停车费又涨了",
        "何必把垃圾桶搬那么远",
        "门口的共享单车到底还管不管了",
        "就不能早点把楼道灯修好吗？",
        "垃圾要分八类，谁记得住啊",
        "isnt anybody going to clean the bin room?",
        "how hard is it to fix one light in the car park",
    ],
)
def test_an_invitation_or_a_rhetorical_clause_asks_nothing(text: str) -> None:
    assert not asks_something(clean(text))


@pytest.mark.parametrize(
    "text",
    [
        "有人知道在哪交物业费吗",  # 有人知道 asks, it invites no one
        "水费和电费能一起交吗",  # 一起 without 有人/谁 is no invitation
        "难道要我自己修？报修电话是多少",  # the second clause still asks
        "小区里哪里可以打乒乓球",
        "anyone know where to play basketball around here?",
        "谁管小区里的路灯",
    ],
)
def test_a_real_question_next_to_those_words_still_asks(text: str) -> None:
    assert asks_something(clean(text))


def test_a_rhetorical_clause_is_no_plea_either() -> None:
    assert pleads(clean("快递又找不到了"))
    assert not pleads(clean("难道快递找不到了也没人管吗"))


def test_unasked_cuts_only_the_cancelled_clause() -> None:
    assert "物业电话多少" in unasked(clean("难道要我自己去吗？物业电话多少"))
    assert unasked(clean("电梯坏了怎么报修")) == clean("电梯坏了怎么报修")


@pytest.mark.parametrize(
    "text",
    [
        "凭什么停车费又涨了",
        "难道电梯坏了三天也没人修吗",
        "周末有人一起打羽毛球吗",
        "今晚有人打牌不",
    ],
)
def test_the_group_gets_no_reply_to_rhetoric_or_invitations(matcher: Matcher, text: str) -> None:
    assert matcher.match(text, mode="passive").decision is Decision.SILENT


@pytest.mark.parametrize(
    "text",
    [
        "附近新楼盘多少钱一平",
        "隔壁小区二手房均价现在多少一平米",
        "how much is a flat here per square meter",
        "租个单间一个月多少钱",
    ],
)
def test_a_price_of_something_else_is_not_the_property_fee(matcher: Matcher, text: str) -> None:
    assert matcher.match(text, mode="passive").decision is Decision.SILENT


@pytest.mark.parametrize(
    "text", ["物业费每平米多少钱", "管理费一个月一平多少钱", "停车月卡一个月多少钱"]
)
def test_a_price_of_the_entry_s_own_topic_is_still_answered(matcher: Matcher, text: str) -> None:
    result = matcher.match(text, mode="passive")
    assert result.decision is Decision.ANSWER
    assert result.entry is not None and result.entry.id in {"property-fee-rate", "parking-monthly"}


@pytest.mark.parametrize(
    "text",
    [
        "以前住平房哪有什么物业，不也过得好好的",  # "there was no such thing"
        "停车费哪有这么贵的",
        "电梯里又有人抽烟，公德心呢",  # scolding, not asking
        "楼道里又堆满了垃圾，素质何在",
    ],
)
def test_no_such_thing_and_scolding_ask_nothing(text: str) -> None:
    assert not asks_something(clean(text))


def test_where_there_is_something_still_asks() -> None:
    assert asks_something(clean("小区哪有充电桩"))
    assert asks_something(clean("小区里哪里有什么地方可以充电瓶车"))


@pytest.mark.parametrize(
    "text",
    [
        "附近哪家超市能送菜上门",
        "哪家搬家公司靠谱",
        "any good place to buy a secondhand fridge around here?",
    ],
)
def test_which_shop_questions_get_no_group_reply(matcher: Matcher, text: str) -> None:
    assert matcher.match(text, mode="passive").decision is Decision.SILENT


@pytest.mark.parametrize(
    "text",
    [
        "燃气灶打不着火了",
        "楼上漏水渗到我家天花板了",
        "空气开关老是跳闸",
        "the light in our stairwell is broken",
    ],
)
def test_a_problem_reported_as_it_happens_is_a_plea(text: str) -> None:
    assert pleads(clean(text))


@pytest.mark.parametrize(
    "text",
    [
        "电梯又坏了烦死了",
        "昨晚停电三个小时，冰箱里东西都化了",
        "上次楼上漏水，赔了我两千块，总算解决了",
        "停电了好热😩",
        "the elevator is broken AGAIN, this is ridiculous",
    ],
)
def test_a_story_or_a_vent_about_a_problem_is_not(text: str) -> None:
    assert not pleads(clean(text))


def test_cues_typed_by_pinyin_count_by_their_sound() -> None:
    assert asks_something(clean("家里灯坏了想包修"))  # 想报修, typed 想包修
    assert pleads(clean("我的车被当住了"))  # 被挡住
    assert not asks_something(clean("我的居住证终于下来了"))  # 我的 is not 我得 ("I must")
    assert not asks_something(clean("现在骗子真多"))  # 现在 (xian zai) is not 想在 (xiang zai)


def test_a_giveaway_is_not_a_question() -> None:
    assert not asks_something(clean("我家有个旧沙发 九成新 谁要免费送 自提"))
    assert not asks_something(clean("多了两箱口罩，有需要的邻居私聊我"))
    assert asks_something(clean("旧沙发要扔，谁知道怎么预约"))


def test_thanks_for_news_is_no_plea_but_the_news_alone_is() -> None:
    assert pleads(clean("停水了"))
    assert not pleads(clean("停水通知看到了，谢谢"))


def test_an_earlier_clause_can_ask_and_a_confirmation_does_not() -> None:
    assert asks_something(clean("物业费手机上能交不，不想跑一趟"))
    assert not asks_something(clean("通知我已经点收到了"))


def test_a_price_is_answered_in_the_group_only_by_an_answer_that_gives_one(
    matcher: Matcher,
) -> None:
    # The property-fee rate gives 2.2 yuan a square metre; the dog licence names no fee.
    rate = matcher.match("物业费一平米多少钱", mode="passive")
    assert rate.decision is Decision.ANSWER and rate.entry is not None
    assert rate.entry.id == "property-fee-rate"
    for text in ("办一个狗证要花多少钱", "how much does a dog licence cost"):
        result = matcher.match(text, mode="passive")
        assert result.decision is Decision.SILENT, text
        assert result.reason == "a price it does not give", (text, result.reason)
    # Asked directly, the licence answer is still offered: it says how to get one.
    direct = matcher.match("办一个狗证要花多少钱", mode="addressed")
    assert any(e.id == "dog-registration" for e, _ in direct.candidates)


def test_who_or_which_is_answered_only_by_an_entry_that_speaks_of_it(matcher: Matcher) -> None:
    for text in ("网格员是谁", "谁是网格员", "邻里是谁"):  # the answers name them
        assert matcher.match(text, mode="passive").decision is Decision.ANSWER, text
    for text in ("居委会主任是谁", "电梯维保公司是哪家"):  # no answer names a director or a firm
        result = matcher.match(text, mode="passive")
        assert result.decision is Decision.SILENT, text
        assert result.reason == "who or which, which it does not say", (text, result.reason)



def test_what_a_question_asks_about_must_be_something_the_entry_speaks_of(matcher: Matcher) -> None:
    # The broadband, meal, office-hours and payment answers name no password, menu, shop or
    # credit card: the topic and the shape match, what is asked does not.
    for text in (
        "宽带的账号密码是多少",
        "充电桩的功率是多少",
        "老年食堂的菜谱有什么",
        "社区超市几点开门",
        "能用信用卡交物业费吗",
        "冬天一般什么时候开始供热",  # not the renovation hours: what happens then is no renovation
        "电动车牌照去哪上",  # the e-bike answer is about charging, it names no plates
    ):
        result = matcher.match(text, mode="passive")
        assert result.decision is Decision.SILENT, text
    assert matcher.match("社区超市几点开门", mode="passive").reason == "what is asked, which it does not say"
    # What the entries do speak of: a phone number, the parcel station's hours, Alipay, a time.
    for text, expected in (
        ("物业值班电话是多少", "contact-staff"),
        ("驿站几点关门", "parcel-pickup"),
        ("能用支付宝交物业费吗", "property-fee-payment"),
        ("停水什么时候恢复", "water-outage"),
        ("老年食堂午饭几点开始", "elderly-meal"),  # 午饭 is the answer's 午餐
        ("停电什么时候恢复", "power-outage"),
        ("什么时候可以装修", "renovation-hours"),
        ("门禁卡丢了去哪补", "access-card"),
        ("狗牌去哪领", "dog-registration"),
    ):
        result = matcher.match(text, mode="passive")
        assert result.decision is Decision.ANSWER and result.entry is not None, text
        assert result.entry.id == expected, text

def test_no_question_word_is_read_across_two_clauses() -> None:
    # 真多，大家: no 多大 ("how big") across the comma; an offer to neighbours asks nothing.
    assert not asks_something(clean("骗子现在手段真多，大家小心"))
    assert not asks_something(clean("有人要旧沙发吗，免费送，自提"))
    assert asks_something(clean("房子多大能办居住证"))


@pytest.mark.parametrize(
    "text",
    ["护照在哪办理", "停水通知看到了，提前接好水了", "刚才停电了几分钟，现在来了"],
)
def test_a_procedure_word_alone_is_no_topic_and_news_already_over_is_no_plea(
    matcher: Matcher, text: str
) -> None:
    # 办理 is all 护照在哪办理 shares with the dog licence; the outage is over or expected.
    assert matcher.match(text, mode="passive").decision is Decision.SILENT, text


@pytest.mark.parametrize(
    "text",
    [
        "小区收不收宠物押金",  # A not A, any verb
        "物业费交没交过你查得到",
        "儿童游乐场星期几开放",
        "烦请告知居委会地址",
        "快递柜能放大件伐",  # Shanghainese 吗
        "这短信是钓鱼链接吧",  # asking to confirm
        "电费交现金还是交支付宝",  # an alternative, the verb said twice
        "能帮忙拿一下快递吗",
        "帮忙看看我家电表是不是坏了",
        "租地下车位还是地面车位",  # two things of one kind
    ],
)
def test_questions_without_the_usual_question_words_ask(text: str) -> None:
    assert asks_something(clean(text)), text


@pytest.mark.parametrize(
    "text",
    [
        "他动不动就在群里发广告",
        "修了两次还是不行，算了",
        "学了好久还是分不清",
        "好吧",
        "行吧，那就这样",
        "昨天帮邻居搬了一下午家，累死了",  # help given, a story
    ],
)
def test_still_and_at_every_turn_and_fine_then_ask_nothing(text: str) -> None:
    assert not asks_something(clean(text)), text


@pytest.mark.parametrize(
    "text, stuck",
    [
        ("someone stole my bike from the rack", True),
        ("a van is blocking my car", True),
        ("the lights went out on our floor", True),
        ("the kitchen drain is clogged", True),
        ("we went out for dinner", False),
        ("the lights went out last night, fixed now", False),  # a story, over
        ("厨房一股煤气味", True),
        ("钥匙卡在锁里了", True),
        ("找了一圈没找到我的电动车", True),
        ("被困楼顶了🆘", True),
    ],
)
def test_an_english_predicament_is_a_plea_as_its_chinese_twin_is(text: str, stuck: bool) -> None:
    assert pleads(clean(text)) is stuck, text


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("跑腿帮我买的菜到了", False),  # the groceries bought for me arrived
        ("居住证拿到了，比我想的快", False),  # faster than I thought
        ("这就是我想要的那种", False),
        ("帮我买一下菜", True),
        ("我想办居住证", True),
        ("能帮我查的吗", True),
    ],
)
def test_a_request_word_inside_a_noun_phrase_asks_nothing(text: str, asks: bool) -> None:
    assert asks_something(clean(text)) is asks
