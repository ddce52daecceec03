"""The programbank's controlled vocabularies: what an app record may say about subjects, grades,
platforms, personal data and cost. Values outside these lists are rejected, so facets stay clean."""

from __future__ import annotations

from shared.events.city import SchoolType
from shared.vocabulary import STRATEGY_HEADINGS

Labels = dict[str, dict[str, str]]

# Skolverket's subject codes where one exists (grundskolan), plus the cross-curricular areas the
# programbank needs (programming, preschool learning, special support).
SUBJECTS: Labels = {
    "MA": {"sv": "Matematik", "en": "Mathematics"},
    "SV": {"sv": "Svenska", "en": "Swedish"},
    "SVA": {"sv": "Svenska som andraspråk", "en": "Swedish as a second language"},
    "EN": {"sv": "Engelska", "en": "English"},
    "ML": {"sv": "Moderna språk", "en": "Modern languages"},
    "MLM": {"sv": "Modersmål", "en": "Mother tongue"},
    "BI": {"sv": "Biologi", "en": "Biology"},
    "FY": {"sv": "Fysik", "en": "Physics"},
    "KE": {"sv": "Kemi", "en": "Chemistry"},
    "TK": {"sv": "Teknik", "en": "Technology"},
    "GE": {"sv": "Geografi", "en": "Geography"},
    "HI": {"sv": "Historia", "en": "History"},
    "RE": {"sv": "Religionskunskap", "en": "Religious education"},
    "SH": {"sv": "Samhällskunskap", "en": "Civics"},
    "BL": {"sv": "Bild", "en": "Art"},
    "MU": {"sv": "Musik", "en": "Music"},
    "SL": {"sv": "Slöjd", "en": "Crafts"},
    "IDH": {"sv": "Idrott och hälsa", "en": "Physical education and health"},
    "HKK": {"sv": "Hem- och konsumentkunskap", "en": "Home and consumer studies"},
    "PRR": {"sv": "Programmering", "en": "Programming"},
    "FSK": {"sv": "Förskolans lärande", "en": "Preschool learning"},
    "SPEC": {"sv": "Specialpedagogiskt stöd", "en": "Special educational support"},
    "OVR": {"sv": "Ämnesövergripande", "en": "Cross-curricular"},
}

# In school order: preschool, preschool class, years 1-9, upper-secondary years, adult education.
GRADES: tuple[str, ...] = ("FS", "F", "1", "2", "3", "4", "5", "6", "7", "8", "9", "GY1", "GY2", "GY3", "VUX")
GRADE_LABELS: Labels = {
    "FS": {"sv": "Förskola", "en": "Preschool"},
    "F": {"sv": "Förskoleklass", "en": "Preschool class"},
    **{str(n): {"sv": f"Årskurs {n}", "en": f"Year {n}"} for n in range(1, 10)},
    **{f"GY{n}": {"sv": f"Gymnasiet år {n}", "en": f"Upper secondary year {n}"} for n in range(1, 4)},
    "VUX": {"sv": "Vuxenutbildning", "en": "Adult education"},
}

SCHOOL_TYPES: tuple[str, ...] = tuple(t.value for t in SchoolType)
HEADINGS: tuple[str, ...] = tuple(STRATEGY_HEADINGS)

PLATFORMS: Labels = {
    "web": {"sv": "Webb", "en": "Web"},
    "ios": {"sv": "iPad/iPhone", "en": "iPad/iPhone"},
    "android": {"sv": "Android", "en": "Android"},
    "windows": {"sv": "Windows", "en": "Windows"},
    "macos": {"sv": "macOS", "en": "macOS"},
    "chromeos": {"sv": "Chromebook", "en": "Chromebook"},
}

KINDS: Labels = {
    "commercial": {"sv": "Kommersiell tjänst", "en": "Commercial service"},
    "open": {"sv": "Öppen/fri resurs", "en": "Open resource"},
    "teacher_made": {"sv": "Lärarproducerat material", "en": "Teacher-made resource"},
}

COST_MODELS: Labels = {
    "free": {"sv": "Kostnadsfri", "en": "Free"},
    "freemium": {"sv": "Gratis bas, betald utökning", "en": "Freemium"},
    "per_pupil": {"sv": "Licens per elev", "en": "Per-pupil licence"},
    "per_school": {"sv": "Licens per skola", "en": "Per-school licence"},
    "city_agreement": {"sv": "Stadens ramavtal", "en": "City framework agreement"},
    "one_time": {"sv": "Engångsköp", "en": "One-time purchase"},
}

# What personal data an app receives (the guardian-facing view shows these labels). "Sensitive"
# categories need a DPIA before approval (GDPR art. 9 and 35; personnummer under DSL 3:10).
DATA_CATEGORIES: Labels = {
    "identity": {"sv": "Namn och användar-id", "en": "Name and user id"},
    "contact": {"sv": "Kontaktuppgifter (e-post, telefon)", "en": "Contact details (e-mail, phone)"},
    "civic_no": {"sv": "Personnummer", "en": "Personal identity number"},
    "school_placement": {"sv": "Skola, klass och årskurs", "en": "School, class and year"},
    "learning_activity": {"sv": "Aktivitet och resultat i tjänsten", "en": "Activity and results in the service"},
    "assessment": {"sv": "Bedömningar och betyg", "en": "Assessments and grades"},
    "content": {"sv": "Elevens egna texter och filer", "en": "The pupil's own texts and files"},
    "image_voice": {"sv": "Bild, ljud eller film på eleven", "en": "Images, voice or video of the pupil"},
    "communication": {"sv": "Meddelanden", "en": "Messages"},
    "device": {"sv": "Enhets- och nätverksdata (t.ex. IP-adress)", "en": "Device and network data (e.g. IP address)"},
    "location": {"sv": "Platsdata", "en": "Location"},
    "health_support": {"sv": "Hälsa eller särskilt stöd", "en": "Health or special support"},
}
SENSITIVE_CATEGORIES = frozenset({"civic_no", "health_support"})

DPA_STATUSES: Labels = {
    "not_required": {"sv": "Behövs inte (inga personuppgifter)", "en": "Not required (no personal data)"},
    "missing": {"sv": "Saknas", "en": "Missing"},
    "requested": {"sv": "Begärt, inte klart", "en": "Requested, not in place"},
    "signed": {"sv": "Undertecknat", "en": "Signed"},
    "expired": {"sv": "Utgånget", "en": "Expired"},
}

# How a transfer outside the EU/EEA is made lawful (GDPR chapter V).
TRANSFER_SAFEGUARDS: Labels = {
    "adequacy": {"sv": "Beslut om adekvat skyddsnivå", "en": "Adequacy decision"},
    "dpf": {"sv": "EU-US Data Privacy Framework", "en": "EU-US Data Privacy Framework"},
    "scc": {"sv": "Standardavtalsklausuler", "en": "Standard contractual clauses"},
    "bcr": {"sv": "Bindande företagsbestämmelser", "en": "Binding corporate rules"},
}

EEA_COUNTRIES = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE IS LI NO".split()
)

# Why an app may not be approved, or why a school may (not) use it: sentences for the reader, in Swedish and
# English (domain.Reason carries the code and the facts; ``{name}`` is filled in from the facts).
REASONS: Labels = {
    # approval blockers (domain.approval_reasons)
    "dpa_expired": {"sv": "Personuppgiftsbiträdesavtalet gick ut {date}.",
                    "en": "The data processing agreement expired on {date}."},
    "no_signed_dpa": {"sv": "Det finns inget undertecknat personuppgiftsbiträdesavtal (avtalets status: {dpaStatus}).",
                      "en": "There is no signed data processing agreement (agreement status: {dpaStatus})."},
    "transfer_without_safeguard": {
        "sv": "Personuppgifter förs över till länder utanför EU/EES utan skyddsåtgärd (beslut om adekvat skyddsnivå, "
              "EU-US Data Privacy Framework, standardavtalsklausuler eller bindande företagsbestämmelser).",
        "en": "Personal data is transferred outside the EU/EEA without a safeguard (an adequacy decision, the EU-US Data "
              "Privacy Framework, standard contractual clauses or binding corporate rules)."},
    "sensitive_without_dpia": {"sv": "Känsliga personuppgifter ({categories}) behandlas utan konsekvensbedömning (DPIA).",
                               "en": "Sensitive personal data ({categories}) is processed without a data protection impact assessment (DPIA)."},
    # availability at a school unit (domain.availability)
    "status_disallows_use": {"sv": "Appens status, {status}, tillåter inte användning.",
                             "en": "The app's status, {status}, does not allow use."},
    "not_for_school_types": {"sv": "Appen är inte avsedd för skolenhetens skolformer.",
                             "en": "The app is not meant for this school unit's school types."},
    "no_usable_grades": {"sv": "Statusen {status} tillåter ingen av appens årskurser.",
                         "en": "The status {status} allows none of the app's grades."},
    "free_use": {"sv": "Fri användning: alla skolor får använda appen.", "en": "Free use: every school may use the app."},
    "licence": {"sv": "Skolenheten har en giltig licens.", "en": "The school unit holds a valid licence."},
    "no_licence": {"sv": "Skolenheten saknar giltig licens för appen.", "en": "The school unit holds no valid licence for the app."},
}

# Why an app is among those a school may use (GET /school-units/{id}/apps), as a short label.
AVAILABLE_BECAUSE: Labels = {
    "free_use": {"sv": "Fri användning", "en": "Free use"},
    "licence": {"sv": "Licens", "en": "Licence"},
}
