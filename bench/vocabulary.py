"""Vocabulary of bench/mailgen.py, pure data: products, people, companies, mailer profiles, sentence
and subject templates, signatures, disclaimers and file names. No logic; the generator picks from it.
"""

from __future__ import annotations

from dataclasses import dataclass

# Sentences are templates whose {slots} are filled per message, so no two bodies repeat one
# paragraph (which would compress unrealistically well).

# (English, short English, simplified Chinese, traditional Chinese, model, HS code, USD price)
PRODUCTS: list[tuple[str, str, str, str, str, str, float]] = [
    (
        "LED driver 12V 2A",
        "LED driver",
        "LED驱动电源 12V 2A",
        "LED驅動電源",
        "HQ-LD1202",
        "8504.40.9999",
        2.35,
    ),
    (
        "USB-C PD charger 65W",
        "charger",
        "65W USB-C快充充电器",
        "快充充電器",
        "HQ-PD65",
        "8504.40.1400",
        6.80,
    ),
    (
        "lithium battery pack 18650 3S2P",
        "battery pack",
        "18650锂电池组 3S2P",
        "鋰電池組",
        "HQ-BP3S2P",
        "8507.60.0000",
        11.50,
    ),
    (
        "power adapter 24V 5A",
        "adapter",
        "电源适配器 24V 5A",
        "電源變壓器",
        "HQ-PA2405",
        "8504.40.9999",
        7.95,
    ),
    (
        "PCB assembly for smart meter",
        "PCBA",
        "智能电表PCBA",
        "電路板組裝",
        "HQ-SM-PCBA",
        "8537.10.9090",
        14.20,
    ),
    (
        "Bluetooth speaker module",
        "BT module",
        "蓝牙音箱模块",
        "藍牙音箱模組",
        "HQ-BT50",
        "8518.22.0000",
        3.10,
    ),
    (
        "wireless charging pad 15W",
        "wireless charger",
        "15W无线充电板",
        "無線充電板",
        "HQ-WC15",
        "8504.40.1400",
        4.65,
    ),
    (
        "solar charge controller 20A",
        "controller",
        "太阳能充电控制器 20A",
        "太陽能控制器",
        "HQ-SC20",
        "9032.89.0090",
        9.40,
    ),
    (
        "LED panel light 600x600 40W",
        "panel light",
        "LED平板灯 600x600 40W",
        "LED平板燈",
        "HQ-PL6640",
        "9405.11.0000",
        12.80,
    ),
    (
        "DC-DC converter 48V to 12V",
        "converter",
        "DC-DC转换模块 48V转12V",
        "直流轉換模組",
        "HQ-DC4812",
        "8504.40.9999",
        5.25,
    ),
    (
        "power bank 10000mAh",
        "power bank",
        "10000mAh移动电源",
        "行動電源",
        "HQ-PB10K",
        "8507.60.0000",
        6.15,
    ),
    (
        "WiFi smart plug EU type",
        "smart plug",
        "欧规WiFi智能插座",
        "智慧插座",
        "HQ-SP-EU",
        "8536.69.9000",
        3.95,
    ),
    (
        "cooling fan 12V 80mm",
        "fan",
        "12V 80mm散热风扇",
        "散熱風扇",
        "HQ-FN8012",
        "8414.59.9000",
        1.28,
    ),
    (
        "EI-48 power transformer",
        "transformer",
        "EI-48变压器",
        "變壓器",
        "HQ-EI48",
        "8504.31.8000",
        2.05,
    ),
]

EN = """\
Please find attached our quotation for {qty} pcs of {product} ({model}), unit price {cur} {price} {inco}.
Thanks for your inquiry of {date}; our best price for {product} is {cur} {price}/pc {inco}.
We checked with production: the lead time for {qty} pcs is about {days} days after deposit.
Attached is the proforma invoice {pi}; please sign and return it with the {pct}% deposit.
Our payment terms are {pay}.
The goods were loaded on {vessel} today, ETD {port} {date}, ETA {dest} {date2}.
Container no. {container}, B/L no. {bl}; please check consignee and notify party on the draft.
Could you please confirm the shipping marks and the carton label before we start packing?
The HS code we use for {product_short} is {hs}; tell us if your broker prefers another one.
All our {product_short} products are {cert} certified and the test reports can be sent on request.
We received your payment of {cur} {amount} today, thank you very much.
Kindly note that copper and IC prices have increased by {pct_small}% since last month. MOQ is {moq} pcs.
We can offer a {pct_small}% discount if the quantity reaches {qty_big} pcs.
Regarding PO {po}, {qty} pcs are ready and the balance will be finished by {date}.
Please advise the final destination and your forwarder's contact so that we can arrange the booking.
Our QC inspected {qty_small} pcs at random and the defect rate was {defect}%, within AQL 2.5.
The samples were sent by DHL today, tracking number {dhl}.
Each carton contains {per_ctn} pcs, carton size {ctn_dim} cm, gross weight {kg} kg.
The total shipment is {ctns} cartons, {cbm} CBM, which fits into one {ctype} container.
We would like to place a trial order of {qty} pcs of {model} if the price is acceptable.
Could you offer a better price for {qty_big} pcs per year? Our target price is {cur} {price}.
Please send us the updated price list and the latest catalogue for {year}.
Our customer requires the products to comply with {cert} and the packaging must be free of PVC.
The invoice amount should be {cur} {amount}; please correct the commercial invoice accordingly.
We noticed {qty_small} units with {defect_en} in the last shipment; photos are attached.
Please arrange the replacement of the defective units with the next shipment at your cost.
The {holiday} holiday is coming; our factory will be closed from {date} to {date2}.
We can accept {pay} for this order as an exception.
The L/C no. {lc} has been issued by {bank}; please check the document requirements carefully.
Please make sure the certificate of origin (Form A / EUR.1) is issued in time for customs clearance.
The freight from {port} to {dest} has gone up to USD {freight} per 40HQ.
I will visit the {fair} and would be glad to meet you at our booth {booth}.
Let me know if you need any further information.
Our engineer suggests a 105°C capacitor to improve the lifetime of {model}.
The output ripple measured {ripple} mV at full load, see the attached test report.
We have updated the gift box artwork according to your comments; please approve it by {date}.
Please confirm whether the plugs should be EU, UK or US type for this batch.
Our bank details remain unchanged; please do not accept any notice of changed bank account by e-mail.
Sorry for the late reply, I was out of office on {date}.
Is it possible to split the order into two shipments, {qty_small} pcs by air and the rest by sea?
The pre-shipment inspection by {inspector} is booked for {date}.
Please also quote the {product} with our logo printed and a colour box."""

# Lines that start with "From " are escaped in mbox; real bodies have them too.
EN_LINE_START = """\
From next week on, please send all purchase orders to our new colleague {colleague}.
From our side everything is ready for the booking on {date}."""

ZH = """\
{customer}的订单{po}已经确认，PI号{pi}，请尽快安排生产。
客户要求{date_zh}之前出货，请生产部确认一下能否赶得上。
{product_zh}目前库存{qty}台，另外还需要采购{qty_small}套外壳。
财务这边还没有收到{customer}的定金，金额{cur} {amount}，麻烦跟进一下。
这批货的HS编码是{hs}，出口退税率13%，报关资料请按这个做。
货代报价：{port_zh}到{dest_zh}，40HQ {freight}美金，20GP {freight2}美金，船名{vessel}。
提单号{bl}，柜号{container}，预计{date_zh}开船。
请在{date_zh}之前把商业发票、装箱单和原产地证准备好，发给客户确认。
QC抽检了{qty_small}pcs，不良率{defect}%，主要问题是{defect_zh}，已经安排返工。
{supplier}的物料延期了，预计{date_zh}才能到厂，可能会影响交期。
客户反馈上一批{product_zh}有{qty_small}台{defect_zh}，需要我们提供8D报告。
这个型号的{cert}认证证书下个月到期，请认证部安排续证。
报价单已经更新，{model}单价调整为{cur} {price}，含税含运费。
请采购部再跟{supplier}谈一下价格，目标价降{pct_small}%。
本月对账单已经发过去了，合计人民币{amount_rmb}元，请贵司核对后盖章回传。
发票已经开好了，顺丰单号{sf}，请注意查收。
样品今天已经用顺丰寄出，单号{sf}，收到后麻烦确认一下。
仓库明天上午九点装柜，请安排两个人协助，叉车已经预约好了。
客户的唛头和箱贴已经确认，外箱上要印CE和WEEE标志。
包装方式：每箱{per_ctn}个，外箱尺寸{ctn_dim}cm，毛重{kg}kg。
这票货一共{ctns}箱，{cbm}立方，建议走一个{ctype}。
海运费又涨了，{port_zh}到{dest_zh}比上个月贵了{freight_up}美金一个柜。
老板同意这个价格，但是付款方式要改成{pay_zh}。
请技术部确认一下{model}的输出纹波，客户要求小于{ripple}mV。
客户下周{weekday_zh}来验厂，请各部门做好5S，生产线要整理干净。
{holiday_zh}放假安排：{date_zh}至{date_zh2}放假，请各部门提前安排好出货。
电汇水单已收到，{cur} {amount}，请安排放单。
这个客户信用一般，{pay_zh}风险比较大，建议先收全款再发货。
请把{model}的规格书和测试报告发给我，我转给客户。
报关单已经放行，请把报关资料整理好交给财务办理退税。
物流那边说{port_zh}码头最近比较拥堵，可能要延迟两三天进港。
客户要的是欧规插头，不是英规，请仓库重新核对一下。
建议用有{cert}认证的电芯，价格会贵一点但是质量稳定。
麻烦{colleague_zh}帮忙查一下{pi}的付款情况，客户说已经付了。
下单数量：{model} {qty}pcs，交期{days}天，付款方式{pay_zh}。
合同已经签好，扫描件在附件里，原件今天快递过去。
{customer}那边想做{qty_big}台的年度订单，问我们能给多少折扣。
明天下午两点开会讨论{product_zh}的新报价，请准时参加。
鑫源那边的IC涨价了{pct_small}%，我们的报价要不要跟着调整？
请在ERP里面把{po}的交期改成{date_zh}，谢谢。
柜子已经提到了，司机电话{mobile}，大概下午三点到仓库。
客户问能不能把{qty_small}pcs先空运过去，剩下的走海运。"""

TW = """\
您好，我們對貴司的{product_tw}很有興趣，請報價{qty}個，交貨到{dest_tw}。
附件是我們的訂單{po}，請確認交期和價格。
請問{model}是否有{cert}認證？我們的客戶要求提供測試報告。
上一批貨已經收到，但是有{qty_small}個外殼破損，照片請見附件。
我們已經匯出訂金{cur} {amount}，水單請見附件。
請在{date_zh}之前安排出貨，謝謝您的協助。
包裝請使用中性紙箱，不要印任何中文字。
請提供商業發票和裝箱單的草稿，我們需要先給報關行確認。
價格方面能否再優惠{pct_small}%？這次的數量比較大。
貨櫃預計{date_zh}到達{dest_tw}港，請提供提單正本。
我們下個月會參加{fair_tw}，希望可以順便拜訪貴司工廠。
請問{product_tw}的保固期是多久？不良品要如何處理？"""

SUBJECTS = {
    "customer": """\
Quotation for {product} - {model}
RFQ: {product} {qty} pcs
PO {po} - {product_short}
Proforma Invoice {pi}
Shipping advice - {container}
Draft B/L {bl} for your confirmation
Payment of {pi}
Samples of {model}
Complaint: defective units in PO {po}
Price increase notice {year}
Inquiry: {product}
Anfrage {product_short} - Projekt {po}
Order confirmation {po}
Test report {model} {cert}
Artwork for {model} gift box
Meeting at {fair}""",
    "internal": """\
{customer}订单{po}生产安排
关于{model}报价的问题
{pi}定金到账确认
出货通知 {container}
{holiday_zh}放假通知
验厂准备工作
HS编码确认 {hs}
退税资料 {year}年{month}月
{product_zh}库存盘点
客户投诉：{product_zh}不良
周会纪要 {date_zh}""",
    "supplier": """\
{supplier}物料延期
对账单{year}年{month}月
样品寄送 {sf}
{model}外壳报价
采购订单 PO-{po_cn}
关于IC涨价的通知""",
    "forwarder": """\
订舱：{port_zh}-{dest_zh} {ctype}
Booking confirmation {bl}
提单确认 {bl}
{vessel} 船期更新
报关资料 {container}""",
    "taiwan": """\
詢價：{product_tw}
訂單{po}確認
出貨通知 {po}
訂金匯款通知""",
}

DEFECTS = [
    ("loose connectors", "接插件松动"),
    ("scratches on the housing", "外壳划伤"),
    ("no output", "无输出"),
    ("wrong labels", "标签贴错"),
    ("noise at full load", "满载异响"),
    ("broken cartons", "外箱破损"),
    ("low capacity", "容量不足"),
]
PORTS = [
    ("Shenzhen Yantian", "盐田"),
    ("Shekou", "蛇口"),
    ("Ningbo", "宁波"),
    ("Hong Kong", "香港"),
]
DESTS = [
    ("Hamburg", "汉堡"),
    ("Rotterdam", "鹿特丹"),
    ("Felixstowe", "费利克斯托"),
    ("Bremerhaven", "不来梅"),
    ("Los Angeles", "洛杉矶"),
    ("Southampton", "南安普顿"),
    ("Antwerp", "安特卫普"),
]
PAY = [
    ("30% T/T deposit, 70% balance against copy of B/L", "30%定金，70%见提单复印件付款"),
    ("100% T/T before shipment", "款到发货"),
    ("L/C at sight", "即期信用证"),
    ("O/A 60 days", "月结60天"),
    ("D/P at sight", "即期付款交单"),
    ("net 30 days after invoice date", "票到30天付款"),
]
HOLIDAYS = [
    ("Chinese New Year", "春节"),
    ("Labour Day", "五一"),
    ("Dragon Boat Festival", "端午节"),
    ("Mid-Autumn Festival", "中秋节"),
    ("National Day", "国庆"),
]

# Word lists for the template slots and the per-thread context that are not tied to a product.
CERTS = ("CE", "RoHS", "FCC", "UL", "UKCA", "GS", "REACH", "CB", "ERP")
INCOTERMS = ("FOB Shenzhen", "CIF Hamburg", "EXW", "FOB Ningbo", "DDP Felixstowe")
BANKS = ("Deutsche Bank AG", "HSBC UK", "Commerzbank AG", "Bank of America", "Barclays Bank PLC")
FAIRS = ("Canton Fair", "Hong Kong Electronics Fair", "electronica Munich", "CES Las Vegas")
FAIRS_TW = ("廣交會", "香港電子展")
INSPECTORS = ("SGS", "Intertek", "Bureau Veritas", "TÜV Rheinland")
PORTS_TW = ("高雄", "基隆", "台中")
# (container owner prefix, carrier name as in vessel names)
CARRIERS = (
    ("MSKU", "MAERSK"),
    ("MSCU", "MSC"),
    ("CSNU", "COSCO SHIPPING"),
    ("HLXU", "HAPAG"),
    ("ONEU", "ONE"),
    ("EGHU", "EVER"),
)
VESSELS = ("ELBA", "ARIES", "APUS", "GÜLSÜN", "LEO")
CUSTOMER_SHORT = ("Müller", "Brightway", "Apex", "Nordlicht", "Voltix", "宏达")
SUPPLIER_SHORT = ("恒通塑胶", "鑫源电子", "顺达五金", "金田包装")

FIRST_EN = [
    "Kevin",
    "Lily",
    "Grace",
    "Jack",
    "Coco",
    "Tony",
    "Sunny",
    "Amy",
    "Leo",
    "Vivian",
    "Eric",
    "Cherry",
]

# Our company: (Chinese name, pinyin, department, English title)
STAFF = [
    ("张伟", "zhangwei", "外贸部", "Sales Manager"),
    ("李娜", "lina", "外贸部", "Sales"),
    ("王芳", "wangfang", "财务部", "Accountant"),
    ("刘洋", "liuyang", "采购部", "Buyer"),
    ("陈静", "chenjing", "物流部", "Logistics"),
    ("杨磊", "yanglei", "品质部", "QC Engineer"),
    ("赵敏", "zhaomin", "单证部", "Documentation"),
    ("黄强", "huangqiang", "总经办", "General Manager"),
    ("周杰", "zhoujie", "外贸部", "Sales"),
    ("吴婷", "wuting", "外贸部", "Merchandiser"),
    ("郑喆", "zhengzhe", "技术部", "R&D Engineer"),
    ("孙珺", "sunjun", "认证部", "Certification"),
]

# English spelling of the staff's family names, by pinyin prefix (first match wins).
SURNAMES = {
    "zhang": "Zhang",
    "li": "Li",
    "wang": "Wang",
    "liu": "Liu",
    "chen": "Chen",
    "yang": "Yang",
    "zhao": "Zhao",
    "huang": "Huang",
    "zhou": "Zhou",
    "wu": "Wu",
    "zheng": "Zheng",
    "sun": "Sun",
}

STAFF_SIGNATURE = (
    "Best regards,\n\n{english} {family} ({name})\n{title} | {dept}\n"
    "Shenzhen Huaqiang Electronics Co., Ltd.\n深圳市华强电子有限公司\n"
    "Add: 深圳市福田区华强北路1019号华强广场B座12楼\n"
    "Tel: {tel}  Mob/WeChat/WhatsApp: {mobile}\nE-mail: {pinyin}@huaqiang-elec.com.cn\n"
    "Web: www.huaqiang-elec.com.cn"
)

# The sentence before the signature, by language.
CLOSINGS = {
    "en": (
        "Looking forward to your reply.",
        "Thank you for your support.",
        "Please let me know if you have any questions.",
        "Thanks in advance.",
    ),
    "zh": ("谢谢！", "请尽快回复，谢谢。", "有问题随时联系。", "辛苦了！"),
    "tw": ("謝謝！", "敬請回覆，謝謝。"),
}

DISCLAIMER_ZH = (
    "本邮件及其附件含有深圳市华强电子有限公司的保密信息，仅限于发送给上面地址中列出的个人或群组。"
    "禁止任何其他人以任何形式使用（包括但不限于全部或部分地泄露、复制、或散发）本邮件中的信息。"
    "如果您错收了本邮件，请您立即电话或邮件通知发件人并删除本邮件！\n"
    "This e-mail and its attachments contain confidential information from Shenzhen Huaqiang "
    "Electronics Co., Ltd., which is intended only for the person or entity whose address is "
    "listed above. Any use of the information contained herein in any way by persons other than "
    "the intended recipient(s) is prohibited. If you receive this e-mail in error, please notify "
    "the sender by phone or email immediately and delete it!"
)


# ---------------------------------------------------------------------------------------------
# Mail programs: the headers, charsets, HTML and quoting styles each one produces.


@dataclass(frozen=True, slots=True)
class Mailer:
    headers: tuple[str, ...]  # fixed header lines
    zh_charsets: tuple[str, ...]  # labels for Chinese text, picked at random
    en_charsets: tuple[str, ...]
    html: str  # "outlook", "foxmail", "gmail", "plain"
    html_p: float  # how often multipart/alternative
    quote: str  # "outlook", "foxmail", "qq", "gt"
    attribution: str  # for quote "gt": format of the "… wrote:" line
    mid: str  # Message-ID style
    rfc2231: bool  # attachment names as RFC 2231 (else RFC 2047 in quotes)
    reply: tuple[str, str]  # reply prefix for (English, Chinese) subjects
    forward: tuple[str, str]


MAILERS: dict[str, Mailer] = {
    "foxmail": Mailer(
        ("X-Priority: 3", "X-Has-Attach: {has_attach}", "X-Mailer: Foxmail 7.2.25.228[cn]"),
        ("GB2312", "utf-8", "utf-8"),
        ("utf-8", "utf-8", "utf-8", "GB2312"),
        "foxmail",
        0.3,
        "foxmail",
        "",
        "foxmail",
        False,
        ("Re: ", "回复："),
        ("Fw: ", "转发："),
    ),
    "outlook_cn": Mailer(
        (
            "X-Mailer: Microsoft Outlook 16.0",
            "Content-Language: zh-cn",
            "Thread-Index: {thread_index}",
        ),
        ("gb2312", "utf-8", "utf-8"),
        ("utf-8",),
        "outlook",
        0.3,
        "outlook",
        "",
        "outlook",
        False,
        ("RE: ", "答复: "),
        ("FW: ", "转发: "),
    ),
    "coremail": Mailer(
        (
            "X-Priority: 3",
            "X-Mailer: Coremail Webmail Server Version XT5.0.14 "
            "build 20230109(dcb5de15) Copyright (c) 2002-2024 www.mailtech.cn 163com",
            "X-NTES-SC: {token}",
        ),
        ("GBK", "utf-8"),
        ("utf-8",),
        "plain",
        0.3,
        "gt",
        "coremail",
        "coremail",
        False,
        ("Re:", "回复:"),
        ("Fw:", "转发:"),
    ),
    "qq": Mailer(
        (
            "X-QQ-mid: {token}",
            "X-QQ-MIME: TCMime 1.0 by Tencent",
            "X-Mailer: QQMail 2.x",
            "X-QQ-Mailer: QQMail 2.x",
        ),
        ("gb18030", "utf-8"),
        ("gb18030",),
        "plain",
        0.4,
        "qq",
        "",
        "qq",
        False,
        ("回复：", "回复："),
        ("转发：", "转发："),
    ),
    "outlook_en": Mailer(
        (
            "Thread-Topic: {subject}",
            "Thread-Index: {thread_index}",
            "X-MS-Has-Attach: {has_attach}",
            "X-MS-TNEF-Correlator:",
            "X-Microsoft-Antispam-Message-Info: {antispam}",
        ),
        ("utf-8",),
        ("utf-8", "iso-8859-1", "Windows-1252"),
        "outlook",
        0.3,
        "outlook",
        "",
        "exchange",
        False,
        ("RE: ", "RE: "),
        ("FW: ", "FW: "),
    ),
    "thunderbird": Mailer(
        ("User-Agent: Mozilla Thunderbird", "Content-Language: en-GB"),
        ("UTF-8",),
        ("UTF-8",),
        "plain",
        0.15,
        "gt",
        "thunderbird",
        "uuid",
        True,
        ("Re: ", "Re: "),
        ("Fwd: ", "Fwd: "),
    ),
    "gmail": Mailer(
        ("X-Gm-Message-State: {token}",),
        ("UTF-8",),
        ("UTF-8",),
        "gmail",
        0.95,
        "gt",
        "gmail",
        "gmail",
        False,
        ("Re: ", "Re: "),
        ("Fwd: ", "Fwd: "),
    ),
    "apple": Mailer(
        ("X-Mailer: Apple Mail (2.3731.700.6)",),
        ("utf-8",),
        ("us-ascii", "utf-8"),
        "plain",
        0.4,
        "gt",
        "apple",
        "uuid",
        True,
        ("Re: ", "Re: "),
        ("Fwd: ", "Fwd: "),
    ),
    "outlook_tw": Mailer(
        (
            "X-Mailer: Microsoft Outlook 16.0",
            "Content-Language: zh-tw",
            "Thread-Index: {thread_index}",
        ),
        ("big5",),
        ("big5", "utf-8"),
        "outlook",
        0.4,
        "outlook",
        "",
        "outlook",
        False,
        ("RE: ", "回覆: "),
        ("FW: ", "轉寄: "),
    ),
}


# ---------------------------------------------------------------------------------------------
# Companies and their people: (organisation, [(display name, mailbox local part), ...]).


@dataclass(frozen=True, slots=True)
class Org:
    domain: str
    kind: str  # "us", "customer", "supplier", "forwarder", "taiwan"
    lang: str  # "zh", "en", "de", "tw"
    tz: int  # standard offset, minutes
    dst: bool
    name: str
    footer: str  # disclaimer or company footer under the signature


US = Org("huaqiang-elec.com.cn", "us", "zh", 480, False, "深圳市华强电子有限公司", DISCLAIMER_ZH)

CUSTOMERS = [
    (
        Org(
            "mueller-elektronik.de",
            "customer",
            "de",
            60,
            True,
            "Müller Elektronik GmbH",
            "Müller Elektronik GmbH · Industriestraße 12 · 70565 Stuttgart\nGeschäftsführer: "
            "Thomas Müller · Amtsgericht Stuttgart HRB 723456 · USt-IdNr.: DE812345678\nDiese "
            "E-Mail enthält vertrauliche Informationen. Wenn Sie nicht der richtige Adressat sind, "
            "informieren Sie bitte sofort den Absender und vernichten Sie diese Mail.",
        ),
        [
            ("Thomas Müller", "t.mueller"),
            ("Anna Schneider", "a.schneider"),
            ("Lukas Weber", "einkauf"),
        ],
    ),
    (
        Org(
            "brightway-components.co.uk",
            "customer",
            "en",
            0,
            True,
            "Brightway Components Ltd",
            "Brightway Components Ltd is registered in England and Wales, company no. 08452231. "
            "Registered office: Unit 4, Riverside Park, Leeds LS10 1QF.",
        ),
        [("James Wilson", "james.wilson"), ("Emily Clarke", "emily.clarke")],
    ),
    (
        Org("apexpower.com", "customer", "en", -300, True, "Apex Power Solutions Inc.", ""),
        [("Michael Johnson", "mjohnson"), ("Sarah Davis", "sdavis"), ("Priya Patel", "ppatel")],
    ),
    (
        Org(
            "nordlicht-handel.de",
            "customer",
            "de",
            60,
            True,
            "Nordlicht Handels GmbH",
            "Nordlicht Handels GmbH, Am Sandtorkai 5, 20457 Hamburg, HRB 154321",
        ),
        [("Stefan Becker", "s.becker"), ("Jürgen Hoffmann", "j.hoffmann")],
    ),
    (
        Org("voltix-distribution.com", "customer", "en", -300, True, "Voltix Distribution LLC", ""),
        [("David Miller", "david"), ("Olivia Brown", "purchasing")],
    ),
]
SUPPLIERS = [
    (
        Org("hengtong-plastic.com", "supplier", "zh", 480, False, "东莞市恒通塑胶制品有限公司", ""),
        [("罗志刚", "luozg"), ("何丽", "heli")],
    ),
    (
        Org("xinyuan-tech.cn", "supplier", "zh", 480, False, "深圳市鑫源电子科技有限公司", ""),
        [("谢斌", "xiebin"), ("林晓燕", "sales01")],
    ),
    (Org("163.com", "supplier", "zh", 480, False, "", ""), [("孙丽", "sunli_1988")]),
    (Org("qq.com", "supplier", "zh", 480, False, "", ""), [("马超", "2837461952")]),
]
FORWARDERS = [
    (
        Org(
            "gangshun-logistics.com",
            "forwarder",
            "zh",
            480,
            False,
            "宁波港顺国际货运代理有限公司",
            "港顺物流 —— 您身边的国际物流专家",
        ),
        [("郭敏 Amy", "amy.guo"), ("钱涛 Tom", "op3")],
    ),
]
TAIWAN = [
    (
        Org(
            "hongda-elec.com.tw",
            "taiwan",
            "tw",
            480,
            False,
            "宏達電子股份有限公司",
            "宏達電子股份有限公司\n台北市內湖區瑞光路 388 號 6 樓\n電話：02-2659-8765",
        ),
        [("林志明", "jm.lin"), ("陳美玲", "mei"), ("黃淑芬", "sf.huang")],
    ),
]


# ---------------------------------------------------------------------------------------------
# Calendar names for Date headers and quote attributions.

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
DAYS_LONG = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DAYS_DE = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")
DAYS_ZH = "一二三四五六日"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MONTHS_LONG = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
MONTHS_DE = (
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
)
# ---------------------------------------------------------------------------------------------
# Attachments: (content type, file name templates).

ATTACHMENTS = [
    (
        "application/pdf",
        [
            "{pi}.pdf",
            "Quotation {model}.pdf",
            "形式发票{pi}.pdf",
            "提单草稿 {bl}.pdf",
            "Commercial Invoice & Packing List {po}.pdf",
            "{cert}证书 {model}.pdf",
            "测试报告_{model}.pdf",
        ],
    ),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        [
            "报价单_{model}.xlsx",
            "Price list {year}.xlsx",
            "装箱单 {po}.xlsx",
            "PL&CI {po}.xlsx",
            "对账单{year}年{month}月.xlsx",
        ],
    ),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ["产品规格书 {model} V1.{month}.docx", "Specification {model}.docx"],
    ),
    (
        "image/jpeg",
        [
            "IMG_{year}{month}{day}_{hhmmss}.jpg",
            "包装照片{n}.jpg",
            "product photo {n}.jpg",
            "微信图片_{year}{month}{day}{hhmmss}.jpg",
        ],
    ),
]
