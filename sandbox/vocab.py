"""Word lists for realistic seeded data: Burmese, Thai and Latin names, places, texts."""

BURMESE_LATIN = ["Aung", "Kyaw", "Zaw", "Htet", "Min", "Thant", "Su", "Hnin", "Ei", "Nilar", "Thida", "Khin",
                 "Moe", "Myat", "Phyu", "Hlaing", "Win", "Oo", "Naing", "Thu", "Zin", "May", "Wai", "Yadanar"]
BURMESE_SCRIPT = ["အောင်", "ကျော်", "ဇော်", "ထက်", "မင်း", "သန့်", "စု", "နှင်း", "ခင်", "မိုး", "မြတ်", "ဖြူ",
                  "လှိုင်", "ဝင်း", "ဦး", "နိုင်"]
THAI_FIRST = ["สมชาย", "สมหญิง", "ปิยะ", "วิภา", "ณัฐ", "กมล", "อรุณ", "ศิริ", "ธนา", "พิมพ์"]
THAI_LAST = ["ใจดี", "ทองดี", "ศรีสุข", "วงศ์ไทย", "แสงทอง", "บุญมา"]
THAI_LATIN_FIRST = ["Somchai", "Somying", "Piya", "Wipa", "Nattapong", "Kamon", "Arun", "Siriporn", "Thana", "Pim"]
THAI_LATIN_LAST = ["Jaidee", "Thongdee", "Srisuk", "Wongthai", "Saengthong", "Boonma"]
LATIN_FIRST = ["Frank", "John", "Maria", "Chen", "Wei", "Siti", "Nur", "Ahmad", "Priya", "James", "Emma",
               "Lucas", "Sofia", "José", "Zoë", "Liam"]
LATIN_LAST = ["McCallister", "Doe", "Tan", "Lim", "Garcia", "Smith", "Nguyen", "Kumar", "Rahman", "Müller",
              "O'Brien", "Ng"]

ADDRESSES = [
    "No.123, Sik Rd, Singapore",
    "45 Sukhumvit Soi 11, Khlong Toei Nuea, Bangkok 10110",
    "No. 7, Bogyoke Aung San Rd, Pabedan, Yangon",
    "123 Business Ave, Singapore",
    "ถนนสุขุมวิท 21 แขวงคลองเตยเหนือ กรุงเทพฯ 10110",
    "အမှတ် ၁၂၊ ဗိုလ်ချုပ်လမ်း၊ ရန်ကုန်",
    "78 Jalan Ampang, 50450 Kuala Lumpur",
    "",
]
NOTES = [
    "Preferred contact method: Messenger",
    "VIP customer, handle with care",
    "Called twice about billing",
    "ลูกค้าต้องการใบกำกับภาษี",
    "ဖုန်းဖြင့်ဆက်သွယ်ရန်",
    "Line 1\nLine 2 with \"quotes\" and a tab\t.",
    "",
]
CHANNELS = ["whatsapp", "messenger", "line", "viber", "email", "phone", "telegram", "webchat"]
COMPANY_NAMES = ["K-Link", "Golden Land Trading", "Siam Logistics Co., Ltd.", "ရွှေမြန်မာ ကုမ္ပဏီ",
                 "บริษัท ไทยเทค จำกัด", "Acme Pte Ltd", "Mandalay Foods", "Orchid Travel", "Blue Ocean Retail",
                 "Northwind"]
INDUSTRIES = ["Telecom", "Retail", "Logistics", "Banking", "Hospitality", "Healthcare", None]
TAG_NAMES = ["platinum", "VVIP", "vip", "new", "gold", "silver", "churn-risk", "ลูกค้าใหม่", "ဖောက်သည်ဟောင်း",
             "wholesale", "complaint", "follow-up", "B2B", "newsletter", "returning", "priority"]
AGENT_NAMES = ["Sarah Jenkins", "Aung Ko Ko", "Nattaya Srisuk", "Min Thu", "David Lim", "Ei Mon", "Pim Boonma",
               "Kevin Tan", "Su Myat", "Arthit Wong"]
QUEUES = ["Tier 2 Technical Support", "Tier 1 General", "Billing", "Sales", "VIP Care"]
LABELS = ["Premium Support", "Technical-V2", "Billing", "Refund", "Escalated", "Spam", "ภาษาไทย", "မြန်မာ"]
TICKET_TITLES = ["Customer cannot access account", "Refund request", "Delivery delayed", "Wrong item received",
                 "Update billing address", "ไม่สามารถเข้าสู่ระบบได้", "ငွေပြန်အမ်းရန်", "App crashes on login"]
TICKET_DESCRIPTIONS = ["Customer reports being unable to log in after password reset",
                       "Asked for a refund of the last invoice", "Parcel not delivered after 7 days", "", None]
MESSAGES = ["Hello, I need help with my order", "မင်္ဂလာပါ", "สวัสดีครับ ต้องการสอบถาม", "Thanks!", "👍",
            "Can you call me back?"]
PRESENCE = [("available", "Available", "🟢"), ("busy", "Busy", "🔴"), ("away", "Away", "🟡"),
            ("offline", "Offline", "⚫"), ("break", "On Break", "☕"), ("meeting", "In a Meeting", "📅")]
CATEGORY_WORDS = ["Billing", "Technical", "Sales", "Delivery", "Account", "Refunds", "Login", "Hardware",
                  "Software", "Invoices", "ภาษี", "ငွေပေးချေမှု", "testing four", "Escalation"]
