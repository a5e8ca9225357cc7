// Interface strings in English and Russian. The language comes from
// `?lang=en|ru`, else the last choice (localStorage), else the browser's.
const STRINGS = {
  en: {
    brand: "CSTO PA public record",
    skip: "Skip to content",
    navLabel: "Main",
    navHome: "Home",
    navSearch: "Search",
    navLive: "Live",
    langLabel: "Language",
    searchLabel: "Search the record",
    searchPlaceholder: "Search persons, documents, events…",
    searchButton: "Search",
    footer: "Read-only public record. Data from the public HTTP/JSON API.",
    loading: "Loading…",
    none: "None recorded.",
    homeTitle: "The assembly at a glance",
    asOf: (d) => `as of ${d}`,
    states: "Member states and observers",
    state: "State",
    status: "Status",
    seats: "Seats",
    totalSeats: (n) => `${n} seats in all`,
    partners: "Partners and observers",
    actionPlans: "Action plans",
    planProgress: (done, total, pct) => `${done} of ${total} items done (${pct}%)`,
    adoptions: "Documents adopted per year",
    missionsPerYear: "Observation missions per year",
    totalMissions: (n) => `${n} missions in all`,
    // A year whose missions are not all known (a source gap covers it).
    missionsAtLeast: (n) => `${n}+ (not all known)`,
    totalMissionsOnRecord: (n, years) => `${n} missions on record; the number for ${years} is not known`,
    undated: "undated",
    treatiesProgress: "Ratification progress per treaty",
    partiesRatified: (r, n) => `${r} of ${n} parties ratified`,
    behind: "Behind",
    latestEvents: "Latest events",
    nextEvents: "Next events",
    // state
    stateTitle: (n) => `${n}: state profile`,
    asOfLabel: "As of",
    asOfSubmit: "Show",
    seatsOn: (d) => `Seats on ${d}`,
    seatTimeline: "Delegation seats over time",
    seatFigure: (n) => `${n} seats`,
    since: (d) => `since ${d}`,
    until: (d) => `until ${d}`,
    // Bounds no source states (cstopa.type.v1.DateRange).
    knownFrom: (d) => `known from ${d}`,
    startAfter: (d) => `after ${d}`,
    knownUntil: (d) => `known until ${d}`,
    endedBy: (d) => `ended by ${d}`,
    knownOn: (d) => `known on ${d}`,
    // What the sources do not say on a date (AS_OF_KNOWLEDGE_NOT_KNOWN).
    notKnown: "not known",
    statusNotKnown: "status not known",
    seatsAtLeast: (n) => `at least ${n} (not all known)`,
    totalSeatsAtLeast: (n) => `at least ${n} seats in all (not all known)`,
    totalSeatsNotKnown: "Seats in all: not known",
    parliaments: "Parliaments",
    people: "People and posts",
    postsNotKnown: "Posts not known to be held on this date",
    treaties: "Treaties",
    implementations: "Model acts implemented",
    missions: "Election observation missions",
    operations: "Collective-forces operations",
    events: "Events",
    statusHistory: "Status history",
    chamber: "Chamber",
    // person
    personTitle: (n) => `${n}: person`,
    roles: "Roles",
    // document
    documentTitle: (n) => `${n}: document`,
    kind: "Kind",
    stages: "Stages",
    revisions: "Revisions",
    revision: "Revision",
    // treaty
    treatyTitle: (n) => `${n}: treaty`,
    signed: "Signed",
    parties: "Parties",
    matrix: "Parties and ratification steps",
    matrixCaption: "Each party's ratification: a step reached is marked with its date when known.",
    reached: "reached",
    notReached: "not reached",
    party: "Party",
    nationalAct: "National act",
    // search
    searchTitle: "Search",
    searchFor: (q) => `Search: ${q}`,
    results: (n) => (n === 1 ? "1 result" : `${n} results`),
    facets: "Types",
    allTypes: "All types",
    nextPage: "Next page",
    firstPage: "First page",
    noResults: "Nothing found.",
    enterQuery: "Enter words to search the whole record.",
    // live
    liveTitle: "Live news and events",
    liveConnecting: "Connecting to the live feed…",
    liveConnected: "Live: new and changed events appear here as they happen.",
    liveLost: "The live feed is interrupted; reconnecting…",
    liveNew: "New",
    liveChanged: "Changed",
    liveRemoved: "Removed",
    recent: "Recent",
    // partial / errors
    partial: (parts) => `Part of this page is missing: ${parts}.`,
    serviceUnavailable: (svc) => `${svc} service unavailable`,
    errorTitle: "The record could not be loaded",
    apiDown: "The API did not answer. Try again in a moment.",
    timeout: "The API took too long to answer.",
    notFound: "Not found",
    notFoundText: "There is no such page.",
    retry: "Try again",
    service: { membership: "membership", legislation: "legislation", events: "events", monitoring: "monitoring" },
  },
  ru: {
    brand: "Открытые данные ПА ОДКБ",
    skip: "К содержанию",
    navLabel: "Основное",
    navHome: "Главная",
    navSearch: "Поиск",
    navLive: "Лента",
    langLabel: "Язык",
    searchLabel: "Поиск по записям",
    searchPlaceholder: "Люди, документы, события…",
    searchButton: "Найти",
    footer: "Открытые данные только для чтения. Источник — публичный HTTP/JSON API.",
    loading: "Загрузка…",
    none: "Нет записей.",
    homeTitle: "Ассамблея в цифрах",
    asOf: (d) => `на ${d}`,
    states: "Государства-члены и наблюдатели",
    state: "Государство",
    status: "Статус",
    seats: "Мест",
    totalSeats: (n) => `Всего мест: ${n}`,
    partners: "Партнёры и наблюдатели",
    actionPlans: "Планы действий",
    planProgress: (done, total, pct) => `Выполнено ${done} из ${total} (${pct}%)`,
    adoptions: "Принятые документы по годам",
    missionsPerYear: "Миссии наблюдателей по годам",
    totalMissions: (n) => `Всего миссий: ${n}`,
    missionsAtLeast: (n) => `${n}+ (известны не все)`,
    totalMissionsOnRecord: (n, years) => `Известно миссий: ${n}; число за ${years} г. неизвестно`,
    undated: "без даты",
    treatiesProgress: "Ратификация договоров",
    partiesRatified: (r, n) => `Ратифицировали ${r} из ${n}`,
    behind: "Отстают",
    latestEvents: "Последние события",
    nextEvents: "Предстоящие события",
    stateTitle: (n) => `${n}: профиль государства`,
    asOfLabel: "На дату",
    asOfSubmit: "Показать",
    seatsOn: (d) => `Мест на ${d}`,
    seatTimeline: "Места делегации по времени",
    seatFigure: (n) => `Мест: ${n}`,
    since: (d) => `с ${d}`,
    until: (d) => `до ${d}`,
    knownFrom: (d) => `известно с ${d}`,
    startAfter: (d) => `после ${d}`,
    knownUntil: (d) => `известно по ${d}`,
    endedBy: (d) => `завершено не позднее ${d}`,
    knownOn: (d) => `известно на ${d}`,
    notKnown: "нет данных",
    statusNotKnown: "статус неизвестен",
    seatsAtLeast: (n) => `не менее ${n} (известны не все)`,
    totalSeatsAtLeast: (n) => `Всего мест: не менее ${n} (известны не все)`,
    totalSeatsNotKnown: "Всего мест: нет данных",
    parliaments: "Парламенты",
    people: "Люди и должности",
    postsNotKnown: "Должности, о которых на эту дату нет данных",
    treaties: "Договоры",
    implementations: "Внедрённые модельные акты",
    missions: "Миссии по наблюдению за выборами",
    operations: "Операции коллективных сил",
    events: "События",
    statusHistory: "История статуса",
    chamber: "Палата",
    personTitle: (n) => `${n}: персона`,
    roles: "Должности",
    documentTitle: (n) => `${n}: документ`,
    kind: "Вид",
    stages: "Этапы",
    revisions: "Редакции",
    revision: "Редакция",
    treatyTitle: (n) => `${n}: договор`,
    signed: "Подписан",
    parties: "Стороны",
    matrix: "Стороны и этапы ратификации",
    matrixCaption: "Ратификация каждой стороной: пройденный этап отмечен датой, если она известна.",
    reached: "пройден",
    notReached: "не пройден",
    party: "Сторона",
    nationalAct: "Национальный акт",
    searchTitle: "Поиск",
    searchFor: (q) => `Поиск: ${q}`,
    results: (n) => `Найдено: ${n}`,
    facets: "Типы",
    allTypes: "Все типы",
    nextPage: "Следующая страница",
    firstPage: "Первая страница",
    noResults: "Ничего не найдено.",
    enterQuery: "Введите слова для поиска по всем записям.",
    liveTitle: "Лента новостей и событий",
    liveConnecting: "Подключение к ленте…",
    liveConnected: "Лента: новые и изменённые события появляются здесь сразу.",
    liveLost: "Лента прервалась; переподключение…",
    liveNew: "Новое",
    liveChanged: "Изменено",
    liveRemoved: "Удалено",
    recent: "Недавние",
    partial: (parts) => `Часть страницы не загружена: ${parts}.`,
    serviceUnavailable: (svc) => `сервис «${svc}» недоступен`,
    errorTitle: "Не удалось загрузить данные",
    apiDown: "API не ответил. Попробуйте чуть позже.",
    timeout: "API отвечал слишком долго.",
    notFound: "Не найдено",
    notFoundText: "Такой страницы нет.",
    retry: "Повторить",
    service: { membership: "членство", legislation: "законодательство", events: "события", monitoring: "мониторинг" },
  },
};

// Labels of API enum values, by value; unknown values fall back to a
// readable form of the name.
const ENUMS = {
  en: {
    MEMBERSHIP_STATUS_MEMBER: "Member", MEMBERSHIP_STATUS_OBSERVER: "Observer",
    MEMBERSHIP_STATUS_PARTNER: "Partner", MEMBERSHIP_STATUS_SUSPENDED: "Suspended", MEMBERSHIP_STATUS_WITHDRAWN: "Withdrawn",
    RATIFICATION_STATUS_NOT_STARTED: "Not started", RATIFICATION_STATUS_BILL_INTRODUCED: "Bill introduced",
    RATIFICATION_STATUS_APPROVED_BY_CHAMBER: "Approved by a chamber", RATIFICATION_STATUS_RATIFIED: "Ratified",
    RATIFICATION_STATUS_IN_FORCE: "In force", RATIFICATION_STATUS_WITHDRAWN: "Withdrawn",
    DOCUMENT_STAGE_DRAFTED: "Drafted", DOCUMENT_STAGE_UNDER_REVIEW: "Under review",
    DOCUMENT_STAGE_AT_COMMISSION: "At commission", DOCUMENT_STAGE_ADOPTED: "Adopted",
    DOCUMENT_STAGE_AMENDED: "Amended", DOCUMENT_STAGE_REPEALED: "Repealed",
    EVENT_KIND_NEWS: "News", EVENT_KIND_PLENARY_SESSION: "Plenary session",
    EVENT_KIND_COUNCIL_MEETING: "Council meeting", EVENT_KIND_COMMISSION_MEETING: "Commission meeting",
    EVENT_KIND_CONSULTATION: "Consultation", EVENT_KIND_TRAINING: "Training",
    EVENT_KIND_WORKING_MEETING: "Working meeting", EVENT_KIND_CONFERENCE: "Conference",
  },
  ru: {
    MEMBERSHIP_STATUS_MEMBER: "Член", MEMBERSHIP_STATUS_OBSERVER: "Наблюдатель",
    MEMBERSHIP_STATUS_PARTNER: "Партнёр", MEMBERSHIP_STATUS_SUSPENDED: "Приостановлено", MEMBERSHIP_STATUS_WITHDRAWN: "Вышло",
    RATIFICATION_STATUS_NOT_STARTED: "Не начата", RATIFICATION_STATUS_BILL_INTRODUCED: "Законопроект внесён",
    RATIFICATION_STATUS_APPROVED_BY_CHAMBER: "Одобрен палатой", RATIFICATION_STATUS_RATIFIED: "Ратифицирован",
    RATIFICATION_STATUS_IN_FORCE: "Вступил в силу", RATIFICATION_STATUS_WITHDRAWN: "Выход",
    DOCUMENT_STAGE_DRAFTED: "Проект", DOCUMENT_STAGE_UNDER_REVIEW: "На рассмотрении",
    DOCUMENT_STAGE_AT_COMMISSION: "В комиссии", DOCUMENT_STAGE_ADOPTED: "Принят",
    DOCUMENT_STAGE_AMENDED: "Изменён", DOCUMENT_STAGE_REPEALED: "Отменён",
    EVENT_KIND_NEWS: "Новость", EVENT_KIND_PLENARY_SESSION: "Пленарное заседание",
    EVENT_KIND_COUNCIL_MEETING: "Заседание совета", EVENT_KIND_COMMISSION_MEETING: "Заседание комиссии",
    EVENT_KIND_CONSULTATION: "Консультации", EVENT_KIND_TRAINING: "Учения",
    EVENT_KIND_WORKING_MEETING: "Рабочая встреча", EVENT_KIND_CONFERENCE: "Конференция",
  },
};

export const LANGS = ["en", "ru"];
let lang = pickLang();

function pickLang() {
  const q = new URLSearchParams(location.search).get("lang");
  if (LANGS.includes(q)) {
    try { localStorage.setItem("lang", q); } catch { /* private mode */ }
    return q;
  }
  try {
    const saved = localStorage.getItem("lang");
    if (LANGS.includes(saved)) return saved;
  } catch { /* private mode */ }
  const nav = (navigator.language || "en").slice(0, 2).toLowerCase();
  return LANGS.includes(nav) ? nav : "en";
}

export const getLang = () => lang;
export function setLang(l) {
  if (!LANGS.includes(l)) return;
  lang = l;
  try { localStorage.setItem("lang", l); } catch { /* private mode */ }
}

// t("key", ...args): the string, or the function applied to the args.
export function t(key, ...args) {
  const v = STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
  return typeof v === "function" ? v(...args) : v;
}

export function enumLabel(value) {
  if (!value) return "";
  const v = ENUMS[lang][value] ?? ENUMS.en[value];
  if (v) return v;
  const words = value.replace(/^[A-Z]+_[A-Z]+_/, "").toLowerCase().replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export const serviceName = (svc) => STRINGS[lang].service[svc] ?? svc;

// Translates the static parts of index.html (data-i18n attributes).
export function applyStatic(root = document) {
  document.documentElement.lang = lang;
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t(el.dataset.i18nLabel));
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const b of root.querySelectorAll("button[data-lang]")) b.setAttribute("aria-pressed", String(b.dataset.lang === lang));
}
