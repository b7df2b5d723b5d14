"""The words of a customer's invoices and credit notes in the language of ``invoice_locale``.

An invoice is issued once, in English, in its ``InvoiceIssued`` record (the log keeps it as it
was issued). A rendering in another language says the same thing with other words: the same
lines, amounts, periods and numbers. The catalogue below is keyed by the English text, so a
message is found by what it says; a placeholder (``{currency}``) stays the same in every language
(``tests/unit/test_invoice_wording.py`` checks both, and that every language has every message).

Why Python tables and not gettext catalogues: seven languages of ~60 short messages here and ~110
for the portal, reviewed as code, with no compile step in the install. The locale's language picks the words (``fr_BE``: French);
Babel still formats the dates and amounts in the full locale (``1 234,57 EUR``).
"""

from __future__ import annotations

from typing import Callable

ENGLISH = "en"

# English messages, in the order a reader meets them. Each is the key of its translations.
MESSAGES = (
    "Invoice", "Credit note",
    "Number", "Reference", "Date of issue", "Billing period", "Account", "Due date", "Corrects invoice",
    "pending (assigned shortly)",
    "Bill to", "VAT / tax id {tax_id}", "(no name on file)", "(erased)",
    "Description", "Quantity", "Amount", "Subtotal", "Total", "{minutes}:{seconds} min",
    "Payments received since the previous invoice", "Paid from prepaid funds; remaining credit", "Amount due",
    "Payment: {instructions}. ",
    "Amounts in {currency}. Usage is billed in arrears for the calendar month, service fees in advance. Taxes and "
    "surcharges are itemised. You may dispute a charge within 30 days of this invoice.",
    # invoice lines (streams/documents/invoice_lines.py re-words projections/invoicing.py's)
    "Activation", "Monthly service", "Monthly service credit, unused days", "Termination fee", "Advanced features",
    "Equipment", "Shipping and handling", "Goodwill credit", "Correction", "Compensation for a service malfunction",
    "Usage re-rated at the plan that matches it", "Calls, domestic", "Calls, international",
    "Calls, premium destinations", "Calls received on rented numbers", "Corrected calls",
    "{label}, {period}", "{label}, {period}, in advance", "{label}, {period}, {minutes}:{seconds} min billed",
    "{label}, {period}, {count} correction", "{label}, {period}, {count} corrections", "Prior-period usage: {usage}",
    "{name} {rate}% of {amount}", "{name} {rate}% reversed on {amount}",
    "Credit for dispute {dispute} on invoice {invoice}: {amount}",
)

_FR = (
    "Facture", "Note de crédit",
    "Numéro", "Référence", "Date d'émission", "Période de facturation", "Compte", "Date d'échéance",
    "Corrige la facture",
    "en attente (attribué sous peu)",
    "Facturé à", "N° TVA / identifiant fiscal {tax_id}", "(aucun nom enregistré)", "(effacé)",
    "Description", "Quantité", "Montant", "Sous-total", "Total", "{minutes}:{seconds} min",
    "Paiements reçus depuis la facture précédente", "Payé sur le crédit prépayé ; crédit restant", "Montant dû",
    "Paiement : {instructions}. ",
    "Montants en {currency}. Les communications sont facturées à terme échu pour le mois civil, les frais de service "
    "à l'avance. Les taxes et surtaxes sont détaillées. Vous pouvez contester un montant dans les 30 jours suivant "
    "cette facture.",
    "Activation", "Abonnement mensuel", "Crédit d'abonnement, jours non utilisés", "Frais de résiliation",
    "Fonctions avancées", "Équipement", "Frais d'envoi et de manutention", "Geste commercial", "Correction",
    "Indemnisation d'un dysfonctionnement du service", "Communications recalculées au tarif du forfait adapté",
    "Appels nationaux", "Appels internationaux", "Appels vers des numéros spéciaux",
    "Appels reçus sur des numéros loués", "Appels corrigés",
    "{label}, {period}", "{label}, {period}, à l'avance", "{label}, {period}, {minutes}:{seconds} min facturées",
    "{label}, {period}, {count} correction", "{label}, {period}, {count} corrections",
    "Communications d'une période antérieure : {usage}",
    "{name} {rate} % de {amount}", "{name} {rate} % annulée sur {amount}",
    "Crédit pour le litige {dispute} sur la facture {invoice} : {amount}",
)

_DE = (
    "Rechnung", "Gutschrift",
    "Nummer", "Referenz", "Rechnungsdatum", "Abrechnungszeitraum", "Konto", "Fälligkeitsdatum",
    "Berichtigt Rechnung",
    "ausstehend (wird in Kürze vergeben)",
    "Rechnungsempfänger", "USt-IdNr. / Steuernummer {tax_id}", "(kein Name hinterlegt)", "(gelöscht)",
    "Beschreibung", "Menge", "Betrag", "Zwischensumme", "Gesamtbetrag", "{minutes}:{seconds} Min.",
    "Zahlungseingänge seit der letzten Rechnung", "Aus Guthaben bezahlt; verbleibendes Guthaben", "Fälliger Betrag",
    "Zahlung: {instructions}. ",
    "Beträge in {currency}. Verbindungen werden nachträglich für den Kalendermonat berechnet, Grundgebühren im "
    "Voraus. Steuern und Abgaben sind einzeln ausgewiesen. Sie können eine Position innerhalb von 30 Tagen nach "
    "dieser Rechnung beanstanden.",
    "Bereitstellung", "Monatliche Grundgebühr", "Gutschrift Grundgebühr, nicht genutzte Tage", "Kündigungsgebühr",
    "Zusatzfunktionen", "Endgeräte", "Versand und Bearbeitung", "Kulanzgutschrift", "Korrektur",
    "Entschädigung für eine Dienststörung", "Verbindungen neu berechnet zum passenden Tarif",
    "Inlandsgespräche", "Auslandsgespräche", "Gespräche zu Sonderrufnummern",
    "Eingehende Gespräche auf gemieteten Rufnummern", "Korrigierte Gespräche",
    "{label}, {period}", "{label}, {period}, im Voraus", "{label}, {period}, {minutes}:{seconds} Min. berechnet",
    "{label}, {period}, {count} Korrektur", "{label}, {period}, {count} Korrekturen",
    "Verbindungen aus einem früheren Zeitraum: {usage}",
    "{name} {rate} % auf {amount}", "{name} {rate} % storniert auf {amount}",
    "Gutschrift für die Beanstandung {dispute} zur Rechnung {invoice}: {amount}",
)

_NL = (
    "Factuur", "Creditnota",
    "Nummer", "Referentie", "Factuurdatum", "Factuurperiode", "Klantnummer", "Vervaldatum",
    "Corrigeert factuur",
    "nog niet toegekend (volgt binnenkort)",
    "Factuur aan", "Btw-nummer / fiscaal nummer {tax_id}", "(geen naam bekend)", "(gewist)",
    "Omschrijving", "Aantal", "Bedrag", "Subtotaal", "Totaal", "{minutes}:{seconds} min",
    "Betalingen ontvangen sinds de vorige factuur", "Betaald uit prepaid tegoed; resterend tegoed", "Te betalen",
    "Betaling: {instructions}. ",
    "Bedragen in {currency}. Gebruik wordt achteraf per kalendermaand gefactureerd, abonnementskosten vooraf. "
    "Belastingen en toeslagen zijn afzonderlijk vermeld. U kunt een bedrag betwisten binnen 30 dagen na deze "
    "factuur.",
    "Activering", "Maandabonnement", "Creditering abonnement, ongebruikte dagen", "Opzeggingskosten",
    "Geavanceerde functies", "Apparatuur", "Verzend- en behandelingskosten", "Coulancecreditering", "Correctie",
    "Vergoeding voor een storing", "Gebruik herberekend tegen het passende abonnement",
    "Gesprekken, nationaal", "Gesprekken, internationaal", "Gesprekken naar speciale nummers",
    "Ontvangen gesprekken op gehuurde nummers", "Gecorrigeerde gesprekken",
    "{label}, {period}", "{label}, {period}, vooraf", "{label}, {period}, {minutes}:{seconds} min gefactureerd",
    "{label}, {period}, {count} correctie", "{label}, {period}, {count} correcties",
    "Gebruik uit een eerdere periode: {usage}",
    "{name} {rate}% over {amount}", "{name} {rate}% teruggeboekt op {amount}",
    "Creditering voor geschil {dispute} over factuur {invoice}: {amount}",
)

_ES = (
    "Factura", "Factura rectificativa",
    "Número", "Referencia", "Fecha de emisión", "Periodo de facturación", "Cuenta", "Fecha de vencimiento",
    "Rectifica la factura",
    "pendiente (se asignará en breve)",
    "Facturar a", "NIF / identificación fiscal {tax_id}", "(sin nombre registrado)", "(suprimido)",
    "Descripción", "Cantidad", "Importe", "Subtotal", "Total", "{minutes}:{seconds} min",
    "Pagos recibidos desde la factura anterior", "Pagado con saldo prepago; saldo restante", "Importe adeudado",
    "Pago: {instructions}. ",
    "Importes en {currency}. El consumo se factura a mes vencido por mes natural, las cuotas de servicio por "
    "adelantado. Los impuestos y recargos se detallan por separado. Puede reclamar un cargo en un plazo de 30 días "
    "desde esta factura.",
    "Alta", "Cuota mensual", "Abono de cuota, días no utilizados", "Penalización por baja", "Funciones avanzadas",
    "Equipos", "Envío y manipulación", "Abono comercial", "Corrección", "Compensación por una avería del servicio",
    "Consumo recalculado con la tarifa que le corresponde", "Llamadas nacionales", "Llamadas internacionales",
    "Llamadas a números especiales", "Llamadas recibidas en números alquilados", "Llamadas corregidas",
    "{label}, {period}", "{label}, {period}, por adelantado", "{label}, {period}, {minutes}:{seconds} min facturados",
    "{label}, {period}, {count} corrección", "{label}, {period}, {count} correcciones",
    "Consumo de un periodo anterior: {usage}",
    "{name} {rate} % sobre {amount}", "{name} {rate} % anulado sobre {amount}",
    "Abono por la reclamación {dispute} de la factura {invoice}: {amount}",
)

_IT = (
    "Fattura", "Nota di credito",
    "Numero", "Riferimento", "Data di emissione", "Periodo di fatturazione", "Conto", "Data di scadenza",
    "Rettifica la fattura",
    "in attesa (assegnato a breve)",
    "Intestatario", "Partita IVA / codice fiscale {tax_id}", "(nessun nome registrato)", "(cancellato)",
    "Descrizione", "Quantità", "Importo", "Subtotale", "Totale", "{minutes}:{seconds} min",
    "Pagamenti ricevuti dalla fattura precedente", "Pagato dal credito prepagato; credito residuo", "Importo dovuto",
    "Pagamento: {instructions}. ",
    "Importi in {currency}. Il traffico è fatturato a consuntivo per il mese solare, i canoni in anticipo. Imposte "
    "e supplementi sono indicati separatamente. È possibile contestare un addebito entro 30 giorni da questa "
    "fattura.",
    "Attivazione", "Canone mensile", "Accredito canone, giorni non utilizzati", "Costo di recesso",
    "Funzioni avanzate", "Apparecchiature", "Spedizione e gestione", "Accredito commerciale", "Rettifica",
    "Indennizzo per un disservizio", "Traffico ricalcolato con il piano corrispondente",
    "Chiamate nazionali", "Chiamate internazionali", "Chiamate verso numeri speciali",
    "Chiamate ricevute su numeri in affitto", "Chiamate rettificate",
    "{label}, {period}", "{label}, {period}, in anticipo", "{label}, {period}, {minutes}:{seconds} min fatturati",
    "{label}, {period}, {count} rettifica", "{label}, {period}, {count} rettifiche",
    "Traffico di un periodo precedente: {usage}",
    "{name} {rate}% su {amount}", "Storno {name} {rate}% su {amount}",
    "Accredito per la contestazione {dispute} della fattura {invoice}: {amount}",
)

_RU = (
    "Счёт", "Корректировочный счёт",
    "Номер", "Ссылка", "Дата выставления", "Расчётный период", "Лицевой счёт", "Срок оплаты",
    "Исправляет счёт",
    "ожидается (будет присвоен в ближайшее время)",
    "Плательщик", "ИНН {tax_id}", "(имя не указано)", "(удалено)",
    "Наименование", "Количество", "Сумма", "Промежуточный итог", "Итого", "{minutes}:{seconds} мин",
    "Платежи, поступившие после предыдущего счёта", "Оплачено из аванса; остаток аванса", "Сумма к оплате",
    "Оплата: {instructions}. ",
    "Суммы в {currency}. Услуги связи оплачиваются по факту за календарный месяц, абонентская плата вносится "
    "авансом. Налоги и сборы указаны отдельно. Вы можете оспорить начисление в течение 30 дней с даты этого счёта.",
    "Подключение", "Абонентская плата", "Возврат абонентской платы за неиспользованные дни", "Плата за расторжение",
    "Дополнительные услуги", "Оборудование", "Доставка", "Компенсация по инициативе оператора", "Корректировка",
    "Компенсация за сбой в работе услуги", "Звонки, пересчитанные по подходящему тарифу",
    "Звонки, местные и междугородные", "Звонки, международные", "Звонки на платные номера",
    "Входящие звонки на арендованные номера", "Исправленные звонки",
    "{label}, {period}", "{label}, {period}, авансом", "{label}, {period}, тарифицировано {minutes}:{seconds} мин",
    "{label}, {period}, исправлений: {count}", "{label}, {period}, исправлений: {count}",
    "Звонки прошлого периода: {usage}",
    "{name} {rate} % от {amount}", "{name} {rate} %, сторно от {amount}",
    "Зачёт по претензии {dispute} к счёту {invoice}: {amount}",
)


class Catalogue:
    """Messages keyed by their English text, and their words in each language that has them all.
    The invoices' catalogue is below; the portal's is ``streams/api/portal_words.py``."""

    def __init__(self, messages: tuple[str, ...], languages: dict[str, tuple[str, ...]]) -> None:
        self.messages = messages
        self.known = frozenset(messages)
        # strict: a language one message short is refused at import, not printed in English
        self.translations = {language: dict(zip(messages, words, strict=True)) for language, words in languages.items()}
        self.languages = (ENGLISH, *sorted(self.translations))

    def wording(self, locale: str) -> Callable[[str], str]:
        """The words of ``locale``'s language: ``t("Invoice")`` is ``"Facture"`` for ``fr_BE``.
        English for a language without a catalogue (Babel still formats its dates and amounts)."""
        words = self.translations.get(language_of(locale))
        if words is None:
            return self._english
        return words.__getitem__  # a KeyError is a message missing from the catalogue: a bug, not a fallback

    def label(self, locale: str) -> Callable[[object], str]:
        """A value from the data (a status, a kind) in words where the catalogue has it, else as it is."""
        words = self.translations.get(language_of(locale), {})
        return lambda value: words.get(str(value), str(value))

    def _english(self, message: str) -> str:
        if message not in self.known:  # as in every other language: a message not listed is a bug
            raise KeyError(message)
        return message


def language_of(locale: str) -> str:
    """``fr_BE`` -> ``fr``; ``pt-BR`` -> ``pt`` (the catalogues are by language, not by country)."""
    return locale.replace("-", "_").split("_", 1)[0].lower()


INVOICE_WORDS = Catalogue(MESSAGES, {"fr": _FR, "de": _DE, "nl": _NL, "es": _ES, "it": _IT, "ru": _RU})
CATALOG = INVOICE_WORDS.translations
LANGUAGES = INVOICE_WORDS.languages
wording = INVOICE_WORDS.wording
