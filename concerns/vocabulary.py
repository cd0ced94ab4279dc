"""The shared vocabulary of the procedure: concern categories, service types, source agencies.

Stored values are the string `value`s of these enums; labels are what people read. A stored value
must keep its meaning forever, so values are never renamed, only added.
"""

from __future__ import annotations

from enum import StrEnum


class ServiceType(StrEnum):
    NURSING = "nursing"
    RESIDENTIAL = "residential"
    SUPPORTED_LIVING = "supported_living"
    DOMICILIARY_CARE = "domiciliary_care"
    DAY_SERVICE = "day_service"
    OTHER = "other"

    @property
    def label(self) -> str:
        return _SERVICE_TYPE_LABELS[self]


_SERVICE_TYPE_LABELS = {
    ServiceType.NURSING: "Nursing home",
    ServiceType.RESIDENTIAL: "Residential home",
    ServiceType.SUPPORTED_LIVING: "Supported living",
    ServiceType.DOMICILIARY_CARE: "Domiciliary care",
    ServiceType.DAY_SERVICE: "Day service",
    ServiceType.OTHER: "Other",
}


class Category(StrEnum):
    """Concern categories, in the order of PROCEDURE.md."""

    MANAGEMENT = "management"
    SUPERVISION = "supervision"
    STAFFING = "staffing"
    TRAINING = "training"
    POLICIES = "policies"
    CARE_PLANNING = "care_planning"
    CLINICAL_CARE = "clinical_care"
    MEDICATION = "medication"
    INFECTION_CONTROL = "infection_control"
    MOVING_AND_HANDLING = "moving_and_handling"
    NUTRITION = "nutrition"
    ENVIRONMENT = "environment"
    DIGNITY = "dignity"
    COMMUNICATION = "communication"
    FINANCE = "finance"
    COMPATIBILITY = "compatibility"
    NOT_ENGAGING = "not_engaging"
    REGULATORY = "regulatory"
    POLICE = "police"
    DEATH = "death"

    @property
    def label(self) -> str:
        return _CATEGORY_LABELS[self]


_CATEGORY_LABELS = {
    Category.MANAGEMENT: "Management and leadership",
    Category.SUPERVISION: "Supervision",
    Category.STAFFING: "Staffing levels and agency use",
    Category.TRAINING: "Staff training, knowledge and skills",
    Category.POLICIES: "Policies and procedures not in place or not followed",
    Category.CARE_PLANNING: "Care planning and risk management",
    Category.CLINICAL_CARE: "Clinical care (for example pressure ulcers)",
    Category.MEDICATION: "Medication",
    Category.INFECTION_CONTROL: "Infection control",
    Category.MOVING_AND_HANDLING: "Moving and handling",
    Category.NUTRITION: "Nutrition and hydration",
    Category.ENVIRONMENT: "Environment and equipment",
    Category.DIGNITY: "Dignity and respect",
    Category.COMMUNICATION: "Communication",
    Category.FINANCE: "Financial management or business failure",
    Category.COMPATIBILITY: "Compatibility of service users",
    Category.NOT_ENGAGING: "Provider not engaging with the council",
    Category.REGULATORY: "Regulatory action (CQC enforcement, inadequate rating)",
    Category.POLICE: "Police or criminal matters",
    Category.DEATH: "Death related to a safeguarding concern",
}


class SourceAgency(StrEnum):
    """Who the concern came from (seed 001: repeat concerns from one source are a signal)."""

    POLICE = "police"
    CQC = "cqc"
    ICB_NHS = "icb_nhs"
    PROVIDER_SELF_REPORT = "provider_self_report"
    COMPLAINT = "complaint"
    MONITORING_VISIT = "monitoring_visit"
    SOCIAL_WORKER = "social_worker"
    FAMILY = "family"
    HEALTHWATCH = "healthwatch"
    PLACING_AUTHORITY = "placing_authority"
    FIRE_SERVICE = "fire_service"
    OTHER = "other"

    @property
    def label(self) -> str:
        return _SOURCE_LABELS[self]


_SOURCE_LABELS = {
    SourceAgency.POLICE: "Police",
    SourceAgency.CQC: "CQC",
    SourceAgency.ICB_NHS: "ICB / NHS",
    SourceAgency.PROVIDER_SELF_REPORT: "Provider self-report",
    SourceAgency.COMPLAINT: "Complaint",
    SourceAgency.MONITORING_VISIT: "Contract monitoring visit",
    SourceAgency.SOCIAL_WORKER: "Social worker or care review",
    SourceAgency.FAMILY: "Family, friend or carer",
    SourceAgency.HEALTHWATCH: "Healthwatch",
    SourceAgency.PLACING_AUTHORITY: "Another placing authority",
    SourceAgency.FIRE_SERVICE: "Fire service",
    SourceAgency.OTHER: "Other",
}


class CommissioningStatus(StrEnum):
    NORMAL = "normal"
    PLACE_WITH_CAUTION = "place_with_caution"
    NEW_PLACEMENTS_SUSPENDED = "new_placements_suspended"
    EMBARGOED = "embargoed"


class ConcernStatus(StrEnum):
    UNSCREENED = "unscreened"
    SCREENED = "screened"


class ScreeningOutcome(StrEnum):
    NO_FURTHER_ACTION = "no_further_action"
    QUALITY_CONCERN = "quality_concern"
    S42_ENQUIRY = "s42_enquiry"
    PROVIDER_CONCERNS = "provider_concerns"

    @property
    def label(self) -> str:
        return _OUTCOME_LABELS[self]


_OUTCOME_LABELS = {
    ScreeningOutcome.NO_FURTHER_ACTION: "No further action",
    ScreeningOutcome.QUALITY_CONCERN: "Quality concern (contract monitoring)",
    ScreeningOutcome.S42_ENQUIRY: "Individual safeguarding enquiry (Care Act s42)",
    ScreeningOutcome.PROVIDER_CONCERNS: "Provider concerns process",
}


def counted(n: int, one: str, many: str | None = None) -> str:
    """'1 concern', '4 concerns': what members read says it properly rather than 'concern(s)'."""
    return f"{n} {one if n == 1 else many or one + 's'}"
