"""The project's vocabularies: its own ontology terms and the external prefixes it reuses."""

from __future__ import annotations

from functools import cache

import curies
from rdflib import Namespace, URIRef
from rdflib.namespace import DefinedNamespace

#: Ontology terms: classes and properties of smnpc-kg.
ONTOLOGY_IRI = "https://w3id.org/smnpc-kg/ontology"
#: Data (instances): studies, arms, results, quotes, ...
ID = Namespace("https://w3id.org/smnpc-kg/id/")
OA = Namespace("http://www.w3.org/ns/oa#")
BIBO = Namespace("http://purl.org/ontology/bibo/")
VANN = Namespace("http://purl.org/vocab/vann/")


class SMO(DefinedNamespace):
    """The smnpc-kg ontology namespace; a misspelt term raises AttributeError.

    >>> str(SMO.Result)
    'https://w3id.org/smnpc-kg/ontology#Result'
    """

    _NS = Namespace("https://w3id.org/smnpc-kg/ontology#")
    _fail = True

    AnatomicalSite: URIRef
    Antimetabolite: URIRef
    BED: URIRef
    BPF: URIRef
    Bleomycin: URIRef
    Bone: URIRef
    BoneMetastasisAnyCancer: URIRef
    BoneMetastasisPatient: URIRef
    BoneOnlyPatient: URIRef
    BoneOnlySmNPC: URIRef
    Camrelizumab: URIRef
    Capecitabine: URIRef
    CarbonIonTherapy: URIRef
    Carboplatin: URIRef
    CaseReport: URIRef
    Centigray: URIRef
    Centimetre: URIRef
    Cetuximab: URIRef
    CharacteristicMeasure: URIRef
    ChemoImmunotherapy: URIRef
    ChemoResponderPatient: URIRef
    ChemoStableDiseasePatient: URIRef
    Chemotherapy: URIRef
    ChemotherapyCycles: URIRef
    ChemotherapyDrug: URIRef
    ChemotherapyRegimen: URIRef
    Chen2016M1a: URIRef
    Chen2016M1b: URIRef
    Chen2017M1a: URIRef
    Chen2017M1b: URIRef
    Chen2017M1c: URIRef
    Cisplatin: URIRef
    ClinicalTrial: URIRef
    Cohort: URIRef
    ColorectalCancer: URIRef
    CompleteResponse: URIRef
    ConcurrentChemoradiotherapy: URIRef
    Contradiction: URIRef
    Count: URIRef
    Day: URIRef
    Disease: URIRef
    DiseaseControl: URIRef
    DistantLymphNode: URIRef
    Docetaxel: URIRef
    DosePerFraction: URIRef
    Drug: URIRef
    EBVDNAStatus: URIRef
    EGFRInhibitor: URIRef
    EQD2: URIRef
    Erlotinib: URIRef
    EvidenceLevel: URIRef
    Femur: URIRef
    FewerThanFourCyclesPatient: URIRef
    Finding: URIRef
    FirstLinePatient: URIRef
    Fluorouracil: URIRef
    FollowUp: URIRef
    FourToSixCyclesPatient: URIRef
    GP: URIRef
    Gefitinib: URIRef
    Gemcitabine: URIRef
    GemcitabineVinorelbine: URIRef
    Gray: URIRef
    HazardRatio: URIRef
    HeadAndNeckCancer: URIRef
    HeadAndNeckSquamousCellCarcinoma: URIRef
    HelicalTomotherapy: URIRef
    HematologicalToxicity: URIRef
    HypofractionatedRadiotherapy: URIRef
    IMPT: URIRef
    IMRT: URIRef
    Ilium: URIRef
    ImmuneCheckpointInhibitor: URIRef
    Immunotherapy: URIRef
    Incidence: URIRef
    Intervention: URIRef
    Items: URIRef
    LaboratoryStudy: URIRef
    LateToxicity: URIRef
    LesionCount: URIRef
    LesionSize: URIRef
    Liver: URIRef
    LiverMetastasisPatient: URIRef
    LiverMetastaticNPC: URIRef
    LiverOneToThreeLesionsPatient: URIRef
    LocalControl: URIRef
    LocalTherapyOfMetastasis: URIRef
    LocallyAdvancedNPC: URIRef
    LocallyRecurrentNPC: URIRef
    LocoregionalRadiotherapy: URIRef
    LumbarVertebra: URIRef
    Lung: URIRef
    LungMetastasisPatient: URIRef
    LungMetastaticNPC: URIRef
    MaintenanceTherapy: URIRef
    Measure: URIRef
    Measurement: URIRef
    Median: URIRef
    MetachronousMetastaticNPC: URIRef
    MetastasisRadiotherapy: URIRef
    MetastaticNPC: URIRef
    MetastaticSiteInvolvement: URIRef
    Methotrexate: URIRef
    Monochemotherapy: URIRef
    Month: URIRef
    Mortality: URIRef
    Mucositis: URIRef
    MultipleFractionRadiotherapy: URIRef
    MultipleMetastasesPatient: URIRef
    NCDBAnalysis: URIRef
    NasopharyngealCarcinoma: URIRef
    Nasopharynx: URIRef
    Nivolumab: URIRef
    NoLocalTherapy: URIRef
    NonPlatinumDoublet: URIRef
    NotSensitiveToChemotherapyPatient: URIRef
    NumberOfFractions: URIRef
    ObjectiveResponse: URIRef
    ObservationalStudy: URIRef
    OligometastaticBonePatient: URIRef
    OligometastaticPatient: URIRef
    OtherSite: URIRef
    OutcomeMeasure: URIRef
    OverallSurvival: URIRef
    PD1Inhibitor: URIRef
    PDL1Inhibitor: URIRef
    PF: URIRef
    PValue: URIRef
    Paclitaxel: URIRef
    PalliativeChemotherapy: URIRef
    Parameter: URIRef
    PartialHepatectomy: URIRef
    PartialResponse: URIRef
    PathwayPhase: URIRef
    PathwayStep: URIRef
    Patient: URIRef
    PatientClass: URIRef
    PatientShare: URIRef
    Patients: URIRef
    Pembrolizumab: URIRef
    PerHundredThousandPersons: URIRef
    Percent: URIRef
    Percentage: URIRef
    PhaseIIIRandomizedTrial: URIRef
    PhaseIITrial: URIRef
    PhaseITrial: URIRef
    PlatinumBasedChemotherapy: URIRef
    PlatinumCompound: URIRef
    PlatinumDoublet: URIRef
    PlatinumEarlyProgressionPatient: URIRef
    PlatinumNaiveOrLateProgressionPatient: URIRef
    PlatinumTriplet: URIRef
    ProgressionFreeSurvival: URIRef
    ProgressiveDisease: URIRef
    ProtonTherapy: URIRef
    Publication: URIRef
    PulmonaryMetastasectomy: URIRef
    Quote: URIRef
    RadiationDose: URIRef
    RadiofrequencyAblation: URIRef
    Radiotherapy: URIRef
    RandomizedControlledTrial: URIRef
    Ratio: URIRef
    Reading: URIRef
    Recommendation: URIRef
    RecommendationDirection: URIRef
    RecommendationStrength: URIRef
    RecurrentHeadAndNeckCancer: URIRef
    RecurrentOrMetastaticNPC: URIRef
    RegionalLymphNodes: URIRef
    RegistryAnalysis: URIRef
    ResponseCategory: URIRef
    ResponseOutcome: URIRef
    Result: URIRef
    Retreatment: URIRef
    RetrospectiveCohortStudy: URIRef
    Review: URIRef
    ReviewSection: URIRef
    Rib: URIRef
    RiskReduction: URIRef
    SEERAnalysis: URIRef
    SecondLinePatient: URIRef
    SequentialChemoradiotherapy: URIRef
    Shen2015GroupA: URIRef
    Shen2015GroupB: URIRef
    Shen2015GroupC: URIRef
    SingleFractionRadiotherapy: URIRef
    SkinReaction: URIRef
    SolitaryLungMetastasisPatient: URIRef
    SolitaryMetastasisPatient: URIRef
    SourceText: URIRef
    StableDisease: URIRef
    Statistic: URIRef
    Sternum: URIRef
    StratificationGroup: URIRef
    StratificationScheme: URIRef
    Study: URIRef
    StudyArm: URIRef
    StudyPopulation: URIRef
    Sun2019HighRisk: URIRef
    Sun2019LowRisk: URIRef
    Sun2019MiddleRisk: URIRef
    Surgery: URIRef
    SurvivalOutcome: URIRef
    SynchronousMetastaticNPC: URIRef
    SystematicReview: URIRef
    SystemicTherapy: URIRef
    TACE: URIRef
    TP: URIRef
    TPF: URIRef
    TargetedDrug: URIRef
    TargetedTherapy: URIRef
    Taxane: URIRef
    ThoracicVertebra: URIRef
    Threshold: URIRef
    TimeInterval: URIRef
    Toxicity: URIRef
    TreatmentDuration: URIRef
    TwoDimensionalConventionalRadiotherapy: URIRef
    Unit: URIRef
    UnlabelledMedian: URIRef
    UnstatedUnit: URIRef
    VEGFPathwayInhibitor: URIRef
    VMAT: URIRef
    VertebralColumn: URIRef
    Vinorelbine: URIRef
    Week: URIRef
    Wu2016M1a: URIRef
    Wu2016M1b: URIRef
    Wu2016M1c: URIRef
    Year: URIRef
    aboutDrug: URIRef
    action: URIRef
    adjusted: URIRef
    appliesTo: URIRef
    armLabel: URIRef
    aspect: URIRef
    basedOn: URIRef
    boneMetastasis: URIRef
    characteristic: URIRef
    citedIn: URIRef
    cohort: URIRef
    cohortOf: URIRef
    comparator: URIRef
    concerns: URIRef
    curatedIn: URIRef
    cyclesReceived: URIRef
    designEvidenceLevel: URIRef
    directEvidence: URIRef
    direction: URIRef
    directionAgainst: URIRef
    directionConsider: URIRef
    directionFor: URIRef
    directionWithCaution: URIRef
    distantNodeMetastasis: URIRef
    ebvDetectable: URIRef
    ebvDnaAfterChemotherapy: URIRef
    ebvUndetectable: URIRef
    ebvVcaIgaTitre: URIRef
    evidenceLevel: URIRef
    evidenceType: URIRef
    extraregionalNodeMetastasis: URIRef
    firstAuthor: URIRef
    flagged: URIRef
    ggtLevel: URIRef
    gptLevel: URIRef
    groupClass: URIRef
    groupDefinition: URIRef
    groupLabel: URIRef
    hasComponent: URIRef
    hemoglobin: URIRef
    highValue: URIRef
    inScheme: URIRef
    intervention: URIRef
    justifiedBy: URIRef
    lesionCount: URIRef
    level1: URIRef
    level2: URIRef
    level3: URIRef
    level4: URIRef
    level5: URIRef
    lineOfTherapy: URIRef
    liverLesionCount: URIRef
    liverMetastasis: URIRef
    lowValue: URIRef
    lungMetastasis: URIRef
    madeBy: URIRef
    metastaticSiteCount: URIRef
    monthsToProgression: URIRef
    nCategory: URIRef
    neutrophilCount: URIRef
    nextStep: URIRef
    notReported: URIRef
    occurrences: URIRef
    oligometastases: URIRef
    order: URIRef
    otherMetastasis: URIRef
    outcomeMeasure: URIRef
    pValue: URIRef
    pValueRelation: URIRef
    paramOligoMaxLesions: URIRef
    parameterValue: URIRef
    partOf: URIRef
    phase: URIRef
    plateletCount: URIRef
    population: URIRef
    priorPlatinum: URIRef
    proposedBy: URIRef
    publicationYear: URIRef
    quotedFrom: URIRef
    rank: URIRef
    reading: URIRef
    readingValue: URIRef
    recommends: URIRef
    referenceNumber: URIRef
    regimenReceived: URIRef
    reportedBy: URIRef
    response: URIRef
    responseCR: URIRef
    responsePD: URIRef
    responsePR: URIRef
    responseSD: URIRef
    restsOnParameter: URIRef
    restsOnReading: URIRef
    sampleSize: URIRef
    section: URIRef
    sha256: URIRef
    sideBySide: URIRef
    site: URIRef
    sourceLine: URIRef
    spineInvolved: URIRef
    statedTarget: URIRef
    statement: URIRef
    statistic: URIRef
    statisticalTest: URIRef
    strength: URIRef
    strengthModerate: URIRef
    strengthStrong: URIRef
    strengthWeak: URIRef
    supportedBy: URIRef
    tStage: URIRef
    textOf: URIRef
    timePoint: URIRef
    timePointUnit: URIRef
    toxicityGrade: URIRef
    trialIdentifier: URIRef
    unit: URIRef
    unverifiedMatch: URIRef
    value: URIRef
    valueRelation: URIRef


#: One prefix map for every output: Turtle, JSON-LD context, query headers, SSSOM, endpoint.
PREFIXES: dict[str, str] = {
    "smo": "https://w3id.org/smnpc-kg/ontology#",
    "id": str(ID),
    "study": f"{ID}study/",
    "arm": f"{ID}arm/",
    "group": f"{ID}group/",
    "scheme": f"{ID}scheme/",
    "result": f"{ID}result/",
    "quote": f"{ID}quote/",
    "finding": f"{ID}finding/",
    "rec": f"{ID}recommendation/",
    "section": f"{ID}section/",
    "source": f"{ID}source/",
    "contradiction": f"{ID}contradiction/",
    "reading": f"{ID}reading/",
    "step": f"{ID}step/",
    "phase": f"{ID}phase/",
    "patient": f"{ID}patient/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "dcterms": "http://purl.org/dc/terms/",
    "prov": "http://www.w3.org/ns/prov#",
    "oa": str(OA),
    "bibo": str(BIBO),
    "vann": str(VANN),
    "sh": "http://www.w3.org/ns/shacl#",
    "NCIT": "http://purl.obolibrary.org/obo/NCIT_",
    "MONDO": "http://purl.obolibrary.org/obo/MONDO_",
    "DOID": "http://purl.obolibrary.org/obo/DOID_",
    "UBERON": "http://purl.obolibrary.org/obo/UBERON_",
    "CHEBI": "http://purl.obolibrary.org/obo/CHEBI_",
    "STATO": "http://purl.obolibrary.org/obo/STATO_",
    "OBI": "http://purl.obolibrary.org/obo/OBI_",
    "ECO": "http://purl.obolibrary.org/obo/ECO_",
    "UO": "http://purl.obolibrary.org/obo/UO_",
}


def sparql_prologue() -> str:
    """PREFIX lines for every prefix of the project map."""
    return "".join(f"PREFIX {p}: <{iri}>\n" for p, iri in PREFIXES.items())


#: Prefixes the SSSOM mapping set uses beside the project's own (its justification vocabulary).
SSSOM_PREFIXES: dict[str, str] = {"semapv": "https://w3id.org/semapv/vocab/"}


@cache
def converter() -> curies.Converter:
    """The one `curies` converter, built once from the project's prefix map (and SSSOM's), for every CURIE."""
    return curies.Converter.from_prefix_map({**PREFIXES, **SSSOM_PREFIXES})


def compact_iri(iri: str) -> str | None:
    """An IRI as a CURIE of the project's map (longest namespace first), or None when no prefix fits or nothing follows it.

    >>> compact_iri("https://w3id.org/smnpc-kg/id/study/ref16"), compact_iri(PREFIXES["smo"]), compact_iri("http://example.org/x")
    ('study:ref16', None, None)
    """
    curie = converter().compress(iri)
    return None if curie is None or curie.endswith(":") else str(curie)
