"""Does a message ask something? Question words, requests, final particles, '?', English openers."""

from __future__ import annotations

import re
from functools import lru_cache

from knowledge.lexicon import Lexicon, load_lexicon
from knowledge.phonetic import exact_syllable, is_han

_TRAILING = "啊呀哈啦嘛哦噢喔诶欸咯呗哇嗯呃额㗎喎㖞啫噃啰嘞喇 ?"  # Cantonese particles too
_EN_WORDS = re.compile(r"[a-z]+")
# English question word order anywhere ("…, can someone fix it", "is it a scam"): an auxiliary
# right before a subject.
_EN_AUX = frozenset("can could should would will is are was were do does did may shall".split())
_EN_SUBJECTS = frozenset(
    "i we you it there someone anyone somebody anybody they he she this that "
    "my our your his her their a an these those the management property "
    "linli bot people residents tenants visitors guests kids children workers staff".split()
)
_EN_NOT_A_CRY = frozenset("the for your their his her all of".split())
# Thanks for something done ("感谢师傅帮我修好了") is no request.
_THANKS = ("谢谢", "感谢", "多谢", "辛苦")
# "分这么细干嘛", "搞那么复杂为什么": an exclamation dressed as a question.
# "是整栋楼停电还是只有我家": an alternative question (是 … 还是 …) asks without a question word.
_ALTERNATIVE = re.compile(r"是[^ |]{1,16}?还是[^ |]")
_RHETORICAL = re.compile(r"(这么|那么|这样|那样)[^ |]{0,4}?(干嘛|干什么|为什么|为啥)")
# An alternative whose second half repeats the first's verb (找物业还是找运营商, 交现金还是交支票):
# 还是 is "or", not "still" (还是不行, 还是黄的, 分类…还是分不清).
_ALTERNATIVE_VERB = re.compile(r"([\u4e00-\u9fff])[^ |]{1,8}?还是(?![^ |]{0,2}[不没]|很|也|都|一)\1")
# ... or two things of one kind (干垃圾还是湿垃圾, 地下车位还是地面车位).
_ALTERNATIVE_KIND = re.compile(r"([\u4e00-\u9fff]{2})还是[^ |]{1,3}?\1")
# Help already given, told as a story (去帮忙分类了一早上, 帮邻居搬了一下午): no request.
# A request word inside a noun phrase asks nothing: 帮我买的菜到了 ("the groceries bought for me
# arrived"), 比我想的快 ("faster than I thought"), 我想要的那种.
_DESCRIBED = re.compile(r"(?:帮我|我想)[^ |?吗呢]{0,4}?的(?![吗呢啊呀话])")
_DONE_HELPING = re.compile(r"帮(?:忙|邻居|人|别人)(?![我你他她])[^ |?吗呢]{0,3}?了")
# Asking to confirm: 是骗子吧, 充电可以吧, 对吧 at a clause's end (not 好吧, 行吧: "fine then").
_CONFIRM = re.compile(r"(?:是[^ |]{1,8}?|可以|对|能)吧[啊呀哈啦嘛哦]*\??(?=[ |]|$)")
# "A not A" (让不让养, 收不收费, 交没交): a yes-no question of any verb, not only the listed ones;
# 动不动 ("at every turn") is none.
_A_NOT_A = re.compile(r"(?!动)([\u4e00-\u9fff])[不没]\1")
# The end of a cancelled clause: its 吗/呢 (or the clause's end), trailing particles and '?'.
_CLAUSE_END = r"(?:吗|么|呢|(?=[ |?]|$))[啊呀哈啦嘛哦噢喔]*\?*"
_SOCIAL_PREFIX = "有没有人|有人|有谁|谁|哪位|大家"
_SOCIAL_MODAL = "想|要|愿意|可以|能|会|有空|今晚|今天|晚上|明天|周末|出来|过来|来|跟我|和我|去"
# Rest of an invitation up to its final particle; a question word there is kept (有人知道在哪打球吗).
_SOCIAL_REST = r"(?:[^ |?怎哪几多为谁什啥知问]{0,8}?(?:吗|么|不|没有|没|呢)(?=[ |?啊呀哈啦嘛哦]|$))?[啊呀哈啦嘛哦]*\?*"
_EN_SOCIAL_PREFIX = r"(?:anyone|anybody|someone|somebody|who)"
_EN_NOT_SOCIAL = "know|knows|where|how|what|when|which|why|tell|help|fix|seen"
# 哪家搬家公司靠谱, 哪一家装修队便宜: which business is good, by its shape (the advice cue 哪家好).
_WHICH_IS_GOOD = re.compile(r"哪一?家[^ |?]{0,8}?(?:靠谱|好|便宜|实惠|专业|不错|划算|正规)")
# 电信和移动哪个网速快一点, 宽带哪家最稳定: which of several is better, a judgement no answer makes
# (哪个桶 alone asks where; which is cheaper is a price, which an answer with the prices gives).
_WHICH_IS_BETTER = re.compile(
    r"哪一?(?:个|家|种|款|边)[^ |?]{0,8}?(?:(?:最|更|比较)(?:快|好|稳定|靠谱|方便|省事)"
    r"|(?:快|好|稳定|靠谱|方便|省事)(?:一点|一些|点|些))"
)


# A message that opens by calling a neighbour (李阿姨, 王姐, 老张, 楼上的大哥) and says 你/您 asks
# that neighbour, not the group (李阿姨，明天你去吗): it is cut out whole.
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
    "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
_KIN = "阿姨|叔叔|大爷|大妈|大娘|奶奶|爷爷|姥姥|姥爷|阿婆|阿公|大叔|大婶|婶婶|婶|伯伯|大伯|大哥|大姐|姐姐|哥哥|嫂子|姐|哥|叔|伯|妹|弟"
_VOCATIVE = re.compile(
    rf"^(?:(?:楼上|楼下|隔壁|对门|对面)的?)?(?:(?:[老小]?[{_SURNAMES}])(?:{_KIN})|(?:楼上|楼下|隔壁|对门|对面)的?(?:{_KIN})|老[{_SURNAMES}]) "
    r"(?=[^|]*[你您]).*$"
)


# A clause that asks by its last word: 吗/么/呢 (Shanghainese 伐), or 不/没 after a modal (能交不, 有没).
_CLAUSE_QUESTION = re.compile(
    r"(?:[吗么呢伐]|(?:能|可以|会|要|有|是|行|让|给|用)[^ |]{0,8}?(?:不|没|没有))[啊呀哈啦嘛哦]*\??$"
)


# Cues that sound like everyday words and so count only as written: 我得 (I must) is 我的 (my).
_WRITTEN_ONLY = frozenset({"我得"})


def _sounds(text: str) -> str:
    """' bao xiu ': the syllables of a text's Chinese characters, space-separated."""
    return " " + " ".join(exact_syllable(ch) if is_han(ch) else "|" for ch in text) + " "


@lru_cache(maxsize=1024)
def _cue_sound(cue: str) -> str:
    """A cue's syllables, worked out once (the cues are the lexicon's, a few hundred)."""
    return _sounds(cue)


def _said(compact: str, sounds: str, cue: str) -> bool:
    """Whether a cue phrase is in the message as written or, typed by pinyin, as it sounds.

    A pinyin typist's slip keeps a cue's sound (想包修 for 想报修, 被当住 for 被挡住), so a cue of
    two or more Chinese characters also counts when its exact syllables (tones aside) appear in
    order.
    """
    if cue in compact:
        return True
    if len(cue) < 2 or cue in _WRITTEN_ONLY or not all(is_han(ch) for ch in cue):
        return False
    return _cue_sound(cue) in sounds


@lru_cache(maxsize=8)
def _cancellers(lexicon: Lexicon) -> tuple[re.Pattern[str], ...]:
    """Regexes of the clauses that ask nothing though they look like questions (see unasked)."""
    alt = lambda words: "|".join(map(re.escape, sorted(words, key=len, reverse=True)))  # noqa: E731
    out: list[re.Pattern[str]] = [_VOCATIVE]
    chinese = [w for w in lexicon.rhetorical if not w.isascii()]
    english = [w for w in lexicon.rhetorical if w.isascii()]
    if chinese:
        out.append(re.compile(f"(?:{alt(chinese)})[^ |?]*?{_CLAUSE_END}"))
    # 就不能早点修吗, 谁受得了, 谁分得清: rhetorical by their shape.
    out.append(re.compile(r"就不能[^ |?]{0,12}?(?:吗|么|呢)[啊呀]*\?*"))
    out.append(re.compile(r"谁[^ |?]{0,3}?得(?:清|懂|了|住|起|着)[啊呀哈啦嘛哦]*\?*"))
    if english:
        out.append(
            re.compile(
                r"(?<![a-z])(?:" + alt(english).replace(r"\ ", " +") + r")(?![a-z])[^?|]*\?*"
            )
        )
    if lexicon.social:
        modal = f"(?:{_SOCIAL_MODAL}|{alt(lexicon.social)})*"
        out.append(
            re.compile(f"(?:{_SOCIAL_PREFIX}){modal}(?:{alt(lexicon.social)}){_SOCIAL_REST}")
        )
    if lexicon.social_strong:
        out.append(re.compile(f"(?:{alt(lexicon.social_strong)}){_SOCIAL_REST}"))
    if lexicon.social_english:
        out.append(
            re.compile(
                rf"(?<![a-z]){_EN_SOCIAL_PREFIX}(?: (?!(?:{_EN_NOT_SOCIAL})(?![a-z]))[a-z]+){{0,4}}? "
                rf"(?:{alt(lexicon.social_english)})(?![a-z])[^?|]*\?*"
            )
        )
    return tuple(out)


def unasked(cleaned: str, lexicon: Lexicon | None = None) -> str:
    """A cleaned message without the clauses that look like questions but ask nothing.

    A rhetorical clause (难道物业不知道吗, 凭什么…, 谁受得了, "isnt anyone going to fix it") and a
    social invitation (有人一起打球吗, 今晚打麻将不, "anyone up for a chat") are cut out, with
    their 吗 and '?'; another clause of the message (…物业电话多少) still asks.
    """
    lexicon = lexicon or load_lexicon()
    for pattern in _cancellers(lexicon):
        cleaned = pattern.sub(" | ", cleaned)
    return cleaned


def asks_something(cleaned: str, lexicon: Lexicon | None = None) -> bool:
    """Whether a cleaned message (see normalize.clean) asks a question or makes a request."""
    lexicon = lexicon or load_lexicon()
    if not cleaned:
        return False
    cleaned = unasked(cleaned, lexicon)
    if "?" in cleaned:
        return True
    compact = _RHETORICAL.sub("|", cleaned.replace(" ", "|"))  # no cue across clauses (真多，大家 is no 多大)
    for phrase in lexicon.not_questions:
        if phrase in compact:
            compact = compact.replace(phrase, "|")
    if any(w in compact for w in lexicon.question_words):
        return True
    alternatives = (_ALTERNATIVE, _ALTERNATIVE_VERB, _ALTERNATIVE_KIND)
    if any(p.search(compact) for p in (*alternatives, _A_NOT_A, _CONFIRM)):
        return True
    requested = _DESCRIBED.sub("|", compact)
    sounds = _sounds(requested)
    if any(_said(requested, sounds, w) for w in lexicon.request_words) and not any(
        t in compact for t in _THANKS
    ) and not _DONE_HELPING.search(compact):
        return True
    if compact.rstrip(_TRAILING + "|").endswith(lexicon.final_particles):
        return True
    if any(_CLAUSE_QUESTION.search(clause) for clause in re.split(r"[ |]+", cleaned)[:-1]):
        return True  # 物业费手机上能交不，不想跑一趟: an earlier clause asks
    words = _EN_WORDS.findall(cleaned)
    if not words:
        return False
    joined = " ".join(words)
    if any(words[0] == w or joined.startswith(w + " ") for w in lexicon.english_openers):
        return True
    if any(a in _EN_AUX and b in _EN_SUBJECTS for a, b in zip(words, words[1:], strict=False)):
        return True
    if any(
        w == "help" and (i == 0 or words[i - 1] not in _EN_NOT_A_CRY) for i, w in enumerate(words)
    ):
        return True  # "stuck in the lift help", but not "thanks for the help"
    padded = f" {joined} "
    return any(f" {w} " in padded for w in lexicon.english_anywhere)


def pleads(cleaned: str, lexicon: Lexicon | None = None) -> bool:
    """Whether a cleaned message states a predicament that asks for help without a question.

    出不去, 联系不上车主, 快递显示签收了可是没拿到, "i can't get out": someone stuck. A remark
    or complaint (电梯又坏了, 停电了好热) is no plea. The matcher answers a plea in a group only
    when it is very sure (Policy.answer_plea).
    """
    lexicon = lexicon or load_lexicon()
    if not cleaned:
        return False
    cleaned = unasked(cleaned, lexicon)
    words = _EN_WORDS.findall(cleaned.replace("'", ""))
    padded = f" {' '.join(words)} "
    compact = cleaned.replace(" ", "")
    sounds = _sounds(compact)

    def said(cue: str) -> bool:
        return (f" {cue} " in padded) if cue.isascii() else _said(compact, sounds, cue)

    if any(t in compact for t in _THANKS):
        return False  # 停水通知看到了，谢谢: thanks for news, no cry for help
    if any(said(p) for p in lexicon.pleas):
        return True
    # A problem reported as it happens, not a story or venting (lexicon: problems, not_reports).
    return any(said(p) for p in lexicon.problems) and not any(
        said(n) if n.isascii() else n in compact for n in lexicon.not_reports
    )


def advice_sought(cleaned: str, lexicon: Lexicon | None = None) -> frozenset[str]:
    """The cues of a cleaned message that ask for a recommendation or where to buy something.

    热水器买哪个牌子好, "where can I buy imported food": a shopping question that shares a topic
    word with an entry (热水器坏了) but asks what no knowledge-base answer tells. English cues
    match at the start of a word ("recommend" also finds "recommendations").
    """
    lexicon = lexicon or load_lexicon()
    if not cleaned or not lexicon.advice:
        return frozenset()
    words = _EN_WORDS.findall(cleaned.replace("'", ""))
    padded = " " + " ".join(words)
    compact = cleaned.replace(" ", "")
    cues = {c for c in lexicon.advice if ((" " + c) in padded if c.isascii() else c in compact)}
    if _WHICH_IS_GOOD.search(compact) or _WHICH_IS_BETTER.search(compact):
        cues.add("哪家好")
    return frozenset(cues)
