"""The framework: its versions, one version in one language, and how answers carry from one version to the next."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from services.assessment.schemas.common import CodeLabel, ScaleLevel, examples
from shared.http.models import Page
from shared.i18n import Language


class FrameworkVersion(BaseModel):
    version: int
    title: str = Field(description="in the reader's language")
    publishedFor: str = Field(description="what this version is, e.g. the action plan it follows")
    previousVersion: int | None
    indicators: int
    headings: int
    carriedForward: int = Field(description="indicators whose answers carry over from the previous version")
    latest: bool


class FrameworkVersions(Page[FrameworkVersion]):
    """The published versions, oldest first, and the names of the European SELFIE and the Swedish LIKA areas the
    headings and indicators refer to."""

    model_config = examples({
        "items": [
            {"version": 1, "title": "Självskattning: it för bättre lärande", "publishedFor": "It-strategi för ett bättre lärande (2011) och Handlingsplan för it i undervisningen (2013)",
             "previousVersion": None, "indicators": 33, "headings": 5, "carriedForward": 0, "latest": False},
            {"version": 2, "title": "Självskattning: it för bättre lärande (revision 2026)", "publishedFor": "Revision 2026: nya indikatorer för AI i lärandet och informationssäkerhet",
             "previousVersion": 1, "indicators": 35, "headings": 5, "carriedForward": 32, "latest": True},
        ],
        "limit": 50, "next": None, "total": 2,
        "selfieAreas": {"leadership": "Leadership", "cpd": "Continuing professional development"},
        "likaAreas": {"ledning": "Ledning", "kompetens": "Kompetens"},
    })

    selfieAreas: dict[str, str] = Field(description="SELFIE area id → its (English) name")
    likaAreas: dict[str, str] = Field(description="LIKA area id → its (Swedish) name")


class Area(BaseModel):
    id: str
    name: str


class Scale(BaseModel):
    levels: list[ScaleLevel]
    notRelevant: str = Field(description="what 'not relevant' is called in the reader's language")


class IndicatorLevel(BaseModel):
    level: int = Field(ge=1, le=5)
    description: str = Field(description="what the school looks like at this level")
    nextStep: str = Field(description="what to do to reach the next level")


class Source(BaseModel):
    document: str
    quote: str | None = None


class FrameworkIndicator(BaseModel):
    id: str = Field(examples=["INF-01"])
    title: str
    statement: str
    help: str
    required: bool
    allowNotRelevant: bool
    schoolTypes: list[str] = Field(description="SS 12000 school type codes the indicator is asked of")
    tags: list[str]
    selfie: list[str]
    lika: list[str]
    source: Source
    levels: list[IndicatorLevel]


class FrameworkHeading(BaseModel):
    id: str
    title: str
    description: str
    selfie: list[Area]
    lika: list[Area]
    indicators: list[FrameworkIndicator]


class Framework(BaseModel):
    """One framework version in one language: what a school answers, and what each level means."""

    model_config = examples({
        "version": 2, "language": "sv", "title": "Självskattning: it för bättre lärande (revision 2026)",
        "description": "Skolenhetens årliga självskattning mot stadens it-strategi för bättre lärande och förvaltningens handlingsplan.",
        "publishedFor": "Revision 2026: nya indikatorer för AI i lärandet och informationssäkerhet", "previousVersion": 1,
        "scale": {"levels": [{"level": n, "label": label} for n, label in
                             enumerate(("Ej påbörjad", "Påbörjad", "Delvis etablerad", "Etablerad", "Ledande"), start=1)],
                  "notRelevant": "Ej relevant"},
        "headings": [{
            "id": "infrastruktur", "title": "Infrastruktur för ökad tillgänglighet",
            "description": "Nät, utrustning och tillgång till digitala verktyg för personal, barn och elever.",
            "selfie": [{"id": "infrastructure-equipment", "name": "Infrastructure and equipment"}], "lika": [{"id": "infrastruktur", "name": "Infrastruktur"}],
            "indicators": [{
                "id": "INF-01", "title": "Trådlöst nät i alla lokaler",
                "statement": "Skolan har ett stabilt trådlöst nät med tillräcklig kapacitet i alla lokaler där undervisning och annan verksamhet bedrivs.",
                "help": "Utgå från täckning och kapacitet i klassrum, grupprum, fritidslokaler, idrottshall och utemiljöer.",
                "required": True, "allowNotRelevant": False, "schoolTypes": ["FS", "FKLASS", "FTH", "GR", "GRS", "GY", "GYS", "VUX", "SFI"],
                "tags": ["handlingsplan", "teknik"], "selfie": ["infrastructure-equipment"], "lika": ["infrastruktur"],
                "source": {"document": "handlingsplan-2013", "quote": "Trådlösa nät finns på samtliga skolor."},
                "levels": [{"level": 3, "description": "Alla klassrum har fungerande trådlöst nät, men täckningen brister i till exempel idrottshall.",
                            "nextStep": "Bygg ut nätet till de återstående lokalerna och inför en fast rutin för felanmälan."}],
            }],
        }],
    })

    version: int
    language: Language
    title: str
    description: str
    publishedFor: str
    previousVersion: int | None
    scale: Scale
    headings: list[FrameworkHeading]


class CarriedIndicator(BaseModel):
    indicatorId: str = Field(description="the indicator in this version")
    title: str = Field(description="its title, in the reader's language")
    from_: str = Field(alias="from", description="the indicator of the previous version whose answer it takes over")

    model_config = ConfigDict(populate_by_name=True)


class CarryForward(BaseModel):
    """How answers under the previous version carry into this one; the rest is answered afresh."""

    model_config = examples({
        "version": 2, "previousVersion": 1,
        "mapping": [{"indicatorId": "INF-01", "title": "Trådlöst nät i alla lokaler", "from": "INF-01"}],
        "answeredAfresh": [{"code": "INF-08", "label": "Informationssäkerhet och dataskydd"}],
    })

    version: int
    previousVersion: int | None
    mapping: list[CarriedIndicator]
    answeredAfresh: list[CodeLabel] = Field(description="indicators of this version no earlier answer carries into")


__all__ = ["CarryForward", "Framework", "FrameworkVersions"]
