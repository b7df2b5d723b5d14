"""The customer portal's words in the customer's language (their own, else ``invoice_locale``), the
locale of everything a customer reads (their invoices: ``streams/documents/wording.py``; and these
pages), and the languages a customer may choose there, each named in itself.

Keyed by the English text, as the invoices' catalogue is, with the same checks
(``tests/unit/test_portal_words.py``). The last group are values from the data (a status, an
invoice's kind, a journal entry's kind): the pages print them through ``label``, which keeps a
value the catalogue does not name as it is. In English, values print as they are stored
(``ACTIVE``, ``REGULAR``), as the API returns them. The operator's console stays in English.
"""

from __future__ import annotations

from streams.documents.wording import Catalogue

MESSAGES = (
    # navigation and titles
    "Account", "Statements", "Invoices", "Call records", "Disputes", "My data", "account {account_id}", "Back",
    "Your account", "Statement {month}",
    # the account page
    "Status", "plan {plan}", "(→ {plan} from next month)", "Balance", "credit available", "amount owed",
    "credit limit {amount}", "To pay",
    "{amount} overdue", "next due {date}", "Nothing to pay on your invoices.", "Recent payments", "Date", "Kind",
    "Amount", "No payments in the last four months.",
    # invoices and what paid them (R11)
    "Number", "Period", "Issued", "Total", "Paid", "View", "PDF", "Dispute", "No invoices yet.", "Paid {date}",
    "Credit note", "Partly paid: {amount} to pay", "Partly paid: {amount} to pay by {date}",
    "Overdue since {date}: {amount} to pay", "Open", "Open: due {date}",
    # call records (R33)
    "The calls behind your charges (newest first).", "Start ({zone})", "Direction", "Called", "Destination", "Billed s",
    "Charge", "Older calls",
    # disputes (R19)
    "Dispute a charge",
    "You may dispute an invoice within 30 days of its issue. We answer every dispute; a dispute decided in your favour "
    "is credited to your account with a credit note.",
    "Invoice", "(over 30 days)", "Amount disputed ({currency})", "What is wrong", "Open the dispute",
    "Dispute refused", "{invoice} is a credit note: only an invoice can be disputed.",
    "Invoice {invoice} was issued on {date}, more than 30 days ago: disputes are accepted within 30 days of an invoice "
    "(R19).",
    "The amount disputed must be positive and at most the total of invoice {invoice}.",
    "Dispute received",
    "Your dispute {dispute} of invoice {invoice} is open. We will answer it; if it is decided in your favour, your "
    "account is credited with a credit note.",
    # my data (R32)
    "Download everything we keep about your account: your call records, the postings of your account and your "
    "invoices, as JSON (R32).",
    "Download my data", "Erase my personal data",
    "We delete the key your name, address and phone numbers are kept under, and anonymise the numbers in your call "
    "records. Your invoices, payments and the amounts of your calls stay, as the law requires. This cannot be undone; "
    "calls you make afterwards are kept under a new key (R32).",
    "Type your account id ({account_id}) to confirm", "Not erased", "To confirm, type your account id ({account_id}) exactly.",
    "Your personal data is erased",
    "Your name, address and numbers can no longer be read: {count} call records keep only their amounts and "
    "destinations. Your invoices and payments stay, as the law requires (R32).",
    # statements (R20)
    "Statements:", "Account {account_id} · {currency} · months in {time_zone}", "Opening balance", "Payments", "Charges",
    "Closing balance", "By kind", "Entries", "Issued this month", "Statement not available",
    "The statement for {month} is not available: statements cover the current month and the three before it "
    "({months}) (R20).",
    # sessions and forms
    "Please sign in",
    "Your session has ended or this page needs your portal link. Open the link your provider sent you, or ask them "
    "for a new one.",
    "This link does not work", "The link is not valid or has expired. Ask your provider for a new one.", "Not sent",
    "The form expired; open the page again.",
    "Account not available yet", "Your account is not ready yet. Try again in a few minutes.", "No such invoice",
    "Your account has no invoice {number}.",
    # values from the data, printed through ``label``
    "REGISTERED", "ACTIVE", "SUSPENDED", "FRAUD_HOLD", "TERMINATED", "prepaid", "postpaid", "REGULAR", "INTERIM",
    "CREDIT_NOTE", "OUTBOUND", "INBOUND", "usage", "usage_correction", "payment", "refund", "chargeback", "fee",
    "fee_credit", "termination_fee", "balance_refund", "invoice", "dispute_credit", "adjustment", "connection_fee",
    # erasure requests reviewed by an operator (R32, portal_erasure = reviewed)
    "Ask to erase my personal data",
    "We review every request first and answer it within 30 days. If the law obliges us to keep your details for "
    "now (an open dispute or a debt being collected, for example), we tell you why.",
    "Request received",
    "Your request {request} is received. We answer it by {date} (R32); this page shows our answer.",
    "Your request of {date} is being reviewed: we answer it by {due}.",
    "Your personal data was erased on {date}.",
    "Your request of {date} was declined on {answered}: {reason}",
    "The state of your requests cannot be shown right now; try again in a few minutes.",
    "Your request could not be sent; try again in a few minutes.",
    # the customer's own language (AccountDetailsChanged v3)
    "Language", "Change the language",
    "Language changed",
    "Your next invoices and these pages will be in {language} in a few moments.",
    # call records by month (R33)
    "Month", "Show", "Calls in {month}: {count}, {amount} in all.", "Download the month (CSV)",
    "No calls in {month}.",
    # the customer's disputes and how each was decided (R19)
    "Your disputes", "Opened", "Decision", "Upheld: a credit note of {amount}", "Not upheld: nothing is credited",
    "No disputes yet.",
)

_FR = (
    "Compte", "Relevés", "Factures", "Appels", "Contestations", "Mes données", "compte {account_id}", "Retour",
    "Votre compte", "Relevé {month}",
    "Statut", "forfait {plan}", "(→ {plan} à partir du mois prochain)", "Solde", "crédit disponible", "montant dû",
    "plafond de crédit {amount}",
    "À payer", "{amount} en retard", "prochaine échéance le {date}", "Rien à payer sur vos factures.",
    "Paiements récents", "Date", "Type", "Montant", "Aucun paiement au cours des quatre derniers mois.",
    "Numéro", "Période", "Émise le", "Total", "Payé", "Voir", "PDF", "Contester", "Aucune facture pour l'instant.",
    "Payée le {date}", "Note de crédit", "Payée en partie : {amount} à payer",
    "Payée en partie : {amount} à payer avant le {date}", "En retard depuis le {date} : {amount} à payer", "Ouverte",
    "Ouverte : échéance le {date}",
    "Les appels à l'origine de vos frais (les plus récents d'abord).", "Début ({zone})", "Sens", "Numéro appelé",
    "Destination", "Secondes facturées", "Montant", "Appels plus anciens",
    "Contester un montant",
    "Vous pouvez contester une facture dans les 30 jours suivant son émission. Nous répondons à chaque contestation ; "
    "une contestation tranchée en votre faveur est créditée sur votre compte par une note de crédit.",
    "Facture", "(plus de 30 jours)", "Montant contesté ({currency})", "Ce qui ne va pas", "Ouvrir la contestation",
    "Contestation refusée", "{invoice} est une note de crédit : seule une facture peut être contestée.",
    "La facture {invoice} a été émise le {date}, il y a plus de 30 jours : une facture peut être contestée dans les "
    "30 jours suivant son émission (R19).",
    "Le montant contesté doit être positif et au plus égal au total de la facture {invoice}.",
    "Contestation reçue",
    "Votre contestation {dispute} de la facture {invoice} est ouverte. Nous y répondrons ; si elle est tranchée en "
    "votre faveur, votre compte sera crédité par une note de crédit.",
    "Téléchargez tout ce que nous conservons sur votre compte : vos appels, les écritures de votre compte et vos "
    "factures, au format JSON (R32).",
    "Télécharger mes données", "Effacer mes données personnelles",
    "Nous supprimons la clé sous laquelle sont conservés votre nom, votre adresse et vos numéros, et anonymisons les "
    "numéros de vos appels. Vos factures, vos paiements et les montants de vos appels restent, comme la loi l'exige. "
    "C'est irréversible ; les appels que vous passerez ensuite seront conservés sous une nouvelle clé (R32).",
    "Saisissez votre identifiant de compte ({account_id}) pour confirmer", "Non effacé",
    "Pour confirmer, saisissez exactement votre identifiant de compte ({account_id}).",
    "Vos données personnelles sont effacées",
    "Votre nom, votre adresse et vos numéros ne peuvent plus être lus : {count} appels ne gardent que leurs montants "
    "et leurs destinations. Vos factures et vos paiements restent, comme la loi l'exige (R32).",
    "Relevés :", "Compte {account_id} · {currency} · mois en {time_zone}", "Solde d'ouverture", "Paiements", "Frais",
    "Solde de clôture", "Par type", "Écritures", "Émis ce mois-ci", "Relevé indisponible",
    "Le relevé de {month} n'est pas disponible : les relevés couvrent le mois en cours et les trois précédents "
    "({months}) (R20).",
    "Veuillez vous connecter",
    "Votre session a expiré ou cette page nécessite votre lien d'accès au portail. Ouvrez le lien envoyé par votre "
    "opérateur, ou demandez-lui-en un nouveau.",
    "Ce lien ne fonctionne pas", "Ce lien n'est pas valide ou a expiré. Demandez-en un nouveau à votre opérateur.",
    "Non envoyé", "Le formulaire a expiré ; ouvrez la page à nouveau.",
    "Compte pas encore disponible", "Votre compte n'est pas encore prêt. Réessayez dans quelques minutes.",
    "Facture introuvable", "Votre compte n'a pas de facture {number}.",
    "Enregistré", "Actif", "Suspendu", "Bloqué pour suspicion de fraude", "Résilié", "prépayé", "post-payé",
    "Mensuelle", "Intermédiaire", "Note de crédit", "Sortant", "Entrant", "Communications", "Correction d'appel",
    "Paiement", "Remboursement", "Rétrofacturation", "Abonnement", "Crédit d'abonnement", "Frais de résiliation",
    "Remboursement du solde", "Facture (arrondis et taxes)", "Crédit de contestation", "Ajustement",
    "Frais de changement de forfait",
    "Demander l'effacement de mes données personnelles",
    "Nous examinons d'abord chaque demande et y répondons sous 30 jours. Si la loi nous oblige à conserver vos "
    "coordonnées pour l'instant (une contestation en cours ou une dette en recouvrement, par exemple), nous vous "
    "en donnons la raison.",
    "Demande reçue",
    "Votre demande {request} est reçue. Nous y répondrons au plus tard le {date} (R32) ; cette page affichera "
    "notre réponse.",
    "Votre demande du {date} est en cours d'examen : nous y répondrons au plus tard le {due}.",
    "Vos données personnelles ont été effacées le {date}.",
    "Votre demande du {date} a été refusée le {answered} : {reason}",
    "L'état de vos demandes ne peut pas être affiché pour le moment ; réessayez dans quelques minutes.",
    "Votre demande n'a pas pu être envoyée ; réessayez dans quelques minutes.",
    "Langue", "Changer de langue",
    "Langue modifiée",
    "Vos prochaines factures et ces pages seront en {language} dans quelques instants.",
    "Mois", "Afficher", "Appels en {month} : {count}, {amount} au total.", "Télécharger le mois (CSV)",
    "Aucun appel en {month}.",
    "Vos contestations", "Ouverte le", "Décision", "Acceptée : une note de crédit de {amount}",
    "Refusée : rien n'est crédité", "Aucune contestation pour l'instant.",
)

_DE = (
    "Konto", "Kontoauszüge", "Rechnungen", "Einzelverbindungen", "Beanstandungen", "Meine Daten", "Konto {account_id}",
    "Zurück", "Ihr Konto", "Kontoauszug {month}",
    "Status", "Tarif {plan}", "(→ {plan} ab nächstem Monat)", "Kontostand", "verfügbares Guthaben", "offener Betrag",
    "Kreditlimit {amount}",
    "Zu zahlen", "{amount} überfällig", "nächste Fälligkeit {date}", "Auf Ihren Rechnungen ist nichts offen.",
    "Letzte Zahlungen", "Datum", "Art", "Betrag", "Keine Zahlungen in den letzten vier Monaten.",
    "Nummer", "Zeitraum", "Ausgestellt", "Gesamt", "Bezahlt", "Ansehen", "PDF", "Beanstanden",
    "Noch keine Rechnungen.", "Bezahlt am {date}", "Gutschrift", "Teilweise bezahlt: {amount} offen",
    "Teilweise bezahlt: {amount} offen bis {date}", "Überfällig seit {date}: {amount} offen", "Offen",
    "Offen: fällig am {date}",
    "Die Verbindungen hinter Ihren Entgelten (neueste zuerst).", "Beginn ({zone})", "Richtung", "Angerufen", "Ziel",
    "Berechnete Sek.", "Entgelt", "Ältere Verbindungen",
    "Eine Position beanstanden",
    "Sie können eine Rechnung innerhalb von 30 Tagen nach ihrer Ausstellung beanstanden. Wir beantworten jede "
    "Beanstandung; wird zu Ihren Gunsten entschieden, schreiben wir Ihrem Konto den Betrag mit einer Gutschrift gut.",
    "Rechnung", "(älter als 30 Tage)", "Beanstandeter Betrag ({currency})", "Was ist falsch", "Beanstandung einreichen",
    "Beanstandung abgelehnt", "{invoice} ist eine Gutschrift: Nur eine Rechnung kann beanstandet werden.",
    "Die Rechnung {invoice} wurde am {date} ausgestellt, vor mehr als 30 Tagen: Beanstandungen werden innerhalb von "
    "30 Tagen nach einer Rechnung angenommen (R19).",
    "Der beanstandete Betrag muss positiv sein und darf den Gesamtbetrag der Rechnung {invoice} nicht übersteigen.",
    "Beanstandung eingegangen",
    "Ihre Beanstandung {dispute} der Rechnung {invoice} ist eröffnet. Wir werden sie beantworten; wird zu Ihren "
    "Gunsten entschieden, erhält Ihr Konto eine Gutschrift.",
    "Laden Sie alles herunter, was wir zu Ihrem Konto speichern: Ihre Verbindungen, die Buchungen Ihres Kontos und "
    "Ihre Rechnungen, als JSON (R32).",
    "Meine Daten herunterladen", "Meine personenbezogenen Daten löschen",
    "Wir löschen den Schlüssel, unter dem Ihr Name, Ihre Anschrift und Ihre Rufnummern gespeichert sind, und "
    "anonymisieren die Rufnummern in Ihren Verbindungen. Ihre Rechnungen, Zahlungen und die Beträge Ihrer "
    "Verbindungen bleiben erhalten, wie es das Gesetz verlangt. Dies kann nicht rückgängig gemacht werden; spätere "
    "Verbindungen werden unter einem neuen Schlüssel gespeichert (R32).",
    "Geben Sie zur Bestätigung Ihre Kontonummer ({account_id}) ein", "Nicht gelöscht",
    "Geben Sie zur Bestätigung Ihre Kontonummer ({account_id}) genau ein.",
    "Ihre personenbezogenen Daten sind gelöscht",
    "Ihr Name, Ihre Anschrift und Ihre Rufnummern können nicht mehr gelesen werden: {count} Verbindungen behalten nur "
    "ihre Beträge und Ziele. Ihre Rechnungen und Zahlungen bleiben erhalten, wie es das Gesetz verlangt (R32).",
    "Kontoauszüge:", "Konto {account_id} · {currency} · Monate in {time_zone}", "Anfangssaldo", "Zahlungen",
    "Entgelte", "Endsaldo", "Nach Art", "Buchungen", "In diesem Monat ausgestellt", "Kontoauszug nicht verfügbar",
    "Der Kontoauszug für {month} ist nicht verfügbar: Kontoauszüge gibt es für den laufenden Monat und die drei "
    "Monate davor ({months}) (R20).",
    "Bitte melden Sie sich an",
    "Ihre Sitzung ist abgelaufen oder diese Seite benötigt Ihren Portal-Link. Öffnen Sie den Link, den Ihr Anbieter "
    "Ihnen gesendet hat, oder bitten Sie um einen neuen.",
    "Dieser Link funktioniert nicht", "Der Link ist ungültig oder abgelaufen. Bitten Sie Ihren Anbieter um einen neuen.",
    "Nicht gesendet", "Das Formular ist abgelaufen; öffnen Sie die Seite erneut.",
    "Konto noch nicht verfügbar", "Ihr Konto ist noch nicht bereit. Versuchen Sie es in einigen Minuten erneut.",
    "Rechnung nicht gefunden", "Zu Ihrem Konto gibt es keine Rechnung {number}.",
    "Registriert", "Aktiv", "Gesperrt", "Wegen Betrugsverdachts gesperrt", "Gekündigt", "Prepaid", "Postpaid",
    "Monatsrechnung", "Zwischenrechnung", "Gutschrift", "Abgehend", "Eingehend", "Verbindungen",
    "Verbindungskorrektur", "Zahlung", "Erstattung", "Rückbuchung", "Grundgebühr", "Gutschrift Grundgebühr",
    "Kündigungsgebühr", "Erstattung des Guthabens", "Rechnung (Rundung und Steuern)", "Gutschrift aus Beanstandung",
    "Anpassung", "Tarifwechselgebühr",
    "Löschung meiner personenbezogenen Daten beantragen",
    "Wir prüfen jeden Antrag zuerst und beantworten ihn innerhalb von 30 Tagen. Wenn uns das Gesetz verpflichtet,"
    " Ihre Angaben vorerst aufzubewahren (etwa bei einer offenen Beanstandung oder einer Forderung im Inkasso), "
    "nennen wir Ihnen den Grund.",
    "Antrag eingegangen",
    "Ihr Antrag {request} ist eingegangen. Wir beantworten ihn bis zum {date} (R32); diese Seite zeigt unsere Antwort.",
    "Ihr Antrag vom {date} wird geprüft: Wir beantworten ihn bis zum {due}.",
    "Ihre personenbezogenen Daten wurden am {date} gelöscht.",
    "Ihr Antrag vom {date} wurde am {answered} abgelehnt: {reason}",
    "Der Stand Ihrer Anträge kann gerade nicht angezeigt werden; versuchen Sie es in einigen Minuten erneut.",
    "Ihr Antrag konnte nicht gesendet werden; versuchen Sie es in einigen Minuten erneut.",
    "Sprache", "Sprache ändern",
    "Sprache geändert",
    "Ihre nächsten Rechnungen und diese Seiten sind in wenigen Augenblicken auf {language}.",
    "Monat", "Anzeigen", "Verbindungen im {month}: {count}, {amount} insgesamt.", "Den Monat herunterladen (CSV)",
    "Keine Verbindungen im {month}.",
    "Ihre Beanstandungen", "Eröffnet", "Entscheidung", "Stattgegeben: eine Gutschrift über {amount}",
    "Abgelehnt: es wird nichts gutgeschrieben", "Noch keine Beanstandungen.",
)

_NL = (
    "Account", "Overzichten", "Facturen", "Gesprekken", "Geschillen", "Mijn gegevens", "account {account_id}", "Terug",
    "Uw account", "Overzicht {month}",
    "Status", "abonnement {plan}", "(→ {plan} vanaf volgende maand)", "Saldo", "beschikbaar tegoed",
    "verschuldigd bedrag", "kredietlimiet {amount}", "Te betalen", "{amount} achterstallig",
    "volgende vervaldatum {date}",
    "Niets te betalen op uw facturen.", "Recente betalingen", "Datum", "Soort", "Bedrag",
    "Geen betalingen in de laatste vier maanden.",
    "Nummer", "Periode", "Uitgegeven", "Totaal", "Betaald", "Bekijken", "PDF", "Betwisten", "Nog geen facturen.",
    "Betaald op {date}", "Creditnota", "Gedeeltelijk betaald: nog {amount} te betalen",
    "Gedeeltelijk betaald: nog {amount} te betalen vóór {date}", "Achterstallig sinds {date}: {amount} te betalen",
    "Open", "Open: vervalt op {date}",
    "De gesprekken achter uw kosten (nieuwste eerst).", "Begin ({zone})", "Richting", "Gebeld", "Bestemming",
    "Gefactureerde s", "Kosten", "Oudere gesprekken",
    "Een bedrag betwisten",
    "U kunt een factuur betwisten binnen 30 dagen na de uitgifte. We beantwoorden elk geschil; een geschil dat in uw "
    "voordeel wordt beslecht, wordt op uw account gecrediteerd met een creditnota.",
    "Factuur", "(ouder dan 30 dagen)", "Betwist bedrag ({currency})", "Wat er niet klopt", "Geschil openen",
    "Geschil geweigerd", "{invoice} is een creditnota: alleen een factuur kan worden betwist.",
    "Factuur {invoice} is uitgegeven op {date}, meer dan 30 dagen geleden: geschillen worden aanvaard binnen 30 dagen "
    "na een factuur (R19).",
    "Het betwiste bedrag moet positief zijn en ten hoogste het totaal van factuur {invoice}.",
    "Geschil ontvangen",
    "Uw geschil {dispute} over factuur {invoice} is geopend. We zullen het beantwoorden; als het in uw voordeel wordt "
    "beslecht, wordt uw account gecrediteerd met een creditnota.",
    "Download alles wat we over uw account bewaren: uw gesprekken, de boekingen van uw account en uw facturen, als "
    "JSON (R32).",
    "Mijn gegevens downloaden", "Mijn persoonsgegevens wissen",
    "We verwijderen de sleutel waaronder uw naam, adres en telefoonnummers bewaard worden, en anonimiseren de nummers "
    "in uw gesprekken. Uw facturen, betalingen en de bedragen van uw gesprekken blijven, zoals de wet vereist. Dit kan "
    "niet ongedaan worden gemaakt; gesprekken die u daarna voert, worden onder een nieuwe sleutel bewaard (R32).",
    "Typ uw accountnummer ({account_id}) om te bevestigen", "Niet gewist",
    "Typ ter bevestiging precies uw accountnummer ({account_id}).", "Uw persoonsgegevens zijn gewist",
    "Uw naam, adres en nummers kunnen niet meer gelezen worden: {count} gesprekken behouden alleen hun bedragen en "
    "bestemmingen. Uw facturen en betalingen blijven, zoals de wet vereist (R32).",
    "Overzichten:", "Account {account_id} · {currency} · maanden in {time_zone}", "Beginsaldo", "Betalingen", "Kosten",
    "Eindsaldo", "Per soort", "Boekingen", "Deze maand uitgegeven", "Overzicht niet beschikbaar",
    "Het overzicht van {month} is niet beschikbaar: overzichten zijn er voor de lopende maand en de drie maanden "
    "ervoor ({months}) (R20).",
    "Meld u aan",
    "Uw sessie is verlopen of deze pagina heeft uw portaallink nodig. Open de link die uw provider u stuurde, of vraag "
    "een nieuwe aan.",
    "Deze link werkt niet", "De link is ongeldig of verlopen. Vraag uw provider om een nieuwe.", "Niet verzonden",
    "Het formulier is verlopen; open de pagina opnieuw.",
    "Account nog niet beschikbaar", "Uw account is nog niet klaar. Probeer het over enkele minuten opnieuw.",
    "Factuur niet gevonden", "Uw account heeft geen factuur {number}.",
    "Geregistreerd", "Actief", "Opgeschort", "Geblokkeerd wegens vermoeden van fraude", "Beëindigd", "prepaid",
    "postpaid", "Maandfactuur", "Tussentijdse factuur", "Creditnota", "Uitgaand", "Inkomend", "Gesprekken",
    "Gesprekscorrectie", "Betaling", "Terugbetaling", "Terugboeking", "Abonnement", "Creditering abonnement",
    "Opzeggingskosten", "Terugbetaling van het saldo", "Factuur (afronding en belastingen)", "Creditering na geschil",
    "Aanpassing", "Kosten abonnementswijziging",
    "Verwijdering van mijn persoonsgegevens aanvragen",
    "We beoordelen elk verzoek eerst en beantwoorden het binnen 30 dagen. Als de wet ons verplicht uw gegevens "
    "voorlopig te bewaren (bijvoorbeeld bij een lopend geschil of een schuld in incasso), laten we u weten "
    "waarom.",
    "Verzoek ontvangen",
    "Uw verzoek {request} is ontvangen. We beantwoorden het uiterlijk op {date} (R32); deze pagina toont ons antwoord.",
    "Uw verzoek van {date} wordt beoordeeld: we beantwoorden het uiterlijk op {due}.",
    "Uw persoonsgegevens zijn op {date} verwijderd.",
    "Uw verzoek van {date} is op {answered} afgewezen: {reason}",
    "De stand van uw verzoeken kan nu niet worden getoond; probeer het over enkele minuten opnieuw.",
    "Uw verzoek kon niet worden verzonden; probeer het over enkele minuten opnieuw.",
    "Taal", "Taal wijzigen",
    "Taal gewijzigd",
    "Uw volgende facturen en deze pagina's zijn over enkele ogenblikken in het {language}.",
    "Maand", "Tonen", "Gesprekken in {month}: {count}, {amount} in totaal.", "De maand downloaden (CSV)",
    "Geen gesprekken in {month}.",
    "Uw geschillen", "Geopend", "Beslissing", "Toegekend: een creditnota van {amount}",
    "Afgewezen: er wordt niets gecrediteerd", "Nog geen geschillen.",
)

_ES = (
    "Cuenta", "Extractos", "Facturas", "Llamadas", "Reclamaciones", "Mis datos", "cuenta {account_id}", "Volver",
    "Su cuenta", "Extracto {month}",
    "Estado", "tarifa {plan}", "(→ {plan} a partir del próximo mes)", "Saldo", "saldo disponible", "importe adeudado",
    "límite de crédito {amount}",
    "A pagar", "{amount} vencido", "próximo vencimiento {date}", "Nada pendiente en sus facturas.", "Pagos recientes",
    "Fecha", "Tipo", "Importe", "Ningún pago en los últimos cuatro meses.",
    "Número", "Periodo", "Emitida", "Total", "Pagado", "Ver", "PDF", "Reclamar", "Aún no hay facturas.",
    "Pagada el {date}", "Factura rectificativa", "Pagada en parte: {amount} pendiente",
    "Pagada en parte: {amount} pendiente antes del {date}", "Vencida desde el {date}: {amount} pendiente", "Abierta",
    "Abierta: vence el {date}",
    "Las llamadas que originan sus cargos (las más recientes primero).", "Inicio ({zone})", "Sentido", "Número llamado",
    "Destino", "Segundos facturados", "Cargo", "Llamadas anteriores",
    "Reclamar un cargo",
    "Puede reclamar una factura en un plazo de 30 días desde su emisión. Respondemos a todas las reclamaciones; una "
    "reclamación resuelta a su favor se abona en su cuenta con una factura rectificativa.",
    "Factura", "(más de 30 días)", "Importe reclamado ({currency})", "Qué es incorrecto", "Abrir la reclamación",
    "Reclamación rechazada", "{invoice} es una factura rectificativa: solo se puede reclamar una factura.",
    "La factura {invoice} se emitió el {date}, hace más de 30 días: las reclamaciones se aceptan en un plazo de 30 días "
    "desde la factura (R19).",
    "El importe reclamado debe ser positivo y como máximo el total de la factura {invoice}.",
    "Reclamación recibida",
    "Su reclamación {dispute} de la factura {invoice} está abierta. La responderemos; si se resuelve a su favor, su "
    "cuenta recibirá un abono con una factura rectificativa.",
    "Descargue todo lo que conservamos sobre su cuenta: sus llamadas, los apuntes de su cuenta y sus facturas, en "
    "formato JSON (R32).",
    "Descargar mis datos", "Suprimir mis datos personales",
    "Eliminamos la clave con la que se guardan su nombre, su dirección y sus números de teléfono, y anonimizamos los "
    "números de sus llamadas. Sus facturas, sus pagos y los importes de sus llamadas se conservan, como exige la ley. "
    "No se puede deshacer; las llamadas que haga después se guardarán con una clave nueva (R32).",
    "Escriba su número de cuenta ({account_id}) para confirmar", "No suprimido",
    "Para confirmar, escriba exactamente su número de cuenta ({account_id}).", "Sus datos personales se han suprimido",
    "Su nombre, su dirección y sus números ya no se pueden leer: {count} llamadas conservan solo sus importes y "
    "destinos. Sus facturas y pagos se conservan, como exige la ley (R32).",
    "Extractos:", "Cuenta {account_id} · {currency} · meses en {time_zone}", "Saldo inicial", "Pagos", "Cargos",
    "Saldo final", "Por tipo", "Apuntes", "Emitido este mes", "Extracto no disponible",
    "El extracto de {month} no está disponible: los extractos cubren el mes en curso y los tres anteriores ({months}) "
    "(R20).",
    "Inicie sesión",
    "Su sesión ha caducado o esta página necesita su enlace al portal. Abra el enlace que le envió su operador o pídale "
    "uno nuevo.",
    "Este enlace no funciona", "El enlace no es válido o ha caducado. Pida uno nuevo a su operador.", "No enviado",
    "El formulario ha caducado; abra la página de nuevo.",
    "Cuenta aún no disponible", "Su cuenta aún no está lista. Inténtelo de nuevo en unos minutos.",
    "Factura no encontrada", "Su cuenta no tiene ninguna factura {number}.",
    "Registrada", "Activa", "Suspendida", "Bloqueada por sospecha de fraude", "Dada de baja", "prepago", "pospago",
    "Mensual", "Intermedia", "Factura rectificativa", "Saliente", "Entrante", "Consumo", "Corrección de llamada", "Pago",
    "Reembolso", "Retrocesión", "Cuota", "Abono de cuota", "Penalización por baja", "Devolución del saldo",
    "Factura (redondeo e impuestos)", "Abono por reclamación", "Ajuste", "Cargo por cambio de tarifa",
    "Solicitar la supresión de mis datos personales",
    "Revisamos primero cada solicitud y la respondemos en un plazo de 30 días. Si la ley nos obliga a conservar "
    "sus datos por ahora (por ejemplo, una reclamación abierta o una deuda en gestión de cobro), le indicamos el "
    "motivo.",
    "Solicitud recibida",
    "Hemos recibido su solicitud {request}. La responderemos a más tardar el {date} (R32); esta página mostrará "
    "nuestra respuesta.",
    "Su solicitud del {date} está en revisión: la responderemos a más tardar el {due}.",
    "Sus datos personales se suprimieron el {date}.",
    "Su solicitud del {date} fue denegada el {answered}: {reason}",
    "El estado de sus solicitudes no se puede mostrar ahora; inténtelo de nuevo en unos minutos.",
    "No se pudo enviar su solicitud; inténtelo de nuevo en unos minutos.",
    "Idioma", "Cambiar el idioma",
    "Idioma cambiado",
    "Sus próximas facturas y estas páginas estarán en {language} en unos momentos.",
    "Mes", "Mostrar", "Llamadas en {month}: {count}, {amount} en total.", "Descargar el mes (CSV)",
    "Ninguna llamada en {month}.",
    "Sus reclamaciones", "Abierta el", "Decisión", "Aceptada: una nota de crédito de {amount}",
    "Rechazada: no se abona nada", "Aún no hay reclamaciones.",
)

_IT = (
    "Conto", "Estratti conto", "Fatture", "Chiamate", "Contestazioni", "I miei dati", "conto {account_id}", "Indietro",
    "Il tuo conto", "Estratto conto {month}",
    "Stato", "piano {plan}", "(→ {plan} dal mese prossimo)", "Saldo", "credito disponibile", "importo dovuto",
    "limite di credito {amount}",
    "Da pagare", "{amount} scaduto", "prossima scadenza {date}", "Nulla da pagare sulle tue fatture.",
    "Pagamenti recenti", "Data", "Tipo", "Importo", "Nessun pagamento negli ultimi quattro mesi.",
    "Numero", "Periodo", "Emessa", "Totale", "Pagato", "Visualizza", "PDF", "Contesta", "Ancora nessuna fattura.",
    "Pagata il {date}", "Nota di credito", "Pagata in parte: {amount} da pagare",
    "Pagata in parte: {amount} da pagare entro il {date}", "Scaduta dal {date}: {amount} da pagare", "Aperta",
    "Aperta: scade il {date}",
    "Le chiamate all'origine dei tuoi addebiti (le più recenti prima).", "Inizio ({zone})", "Direzione", "Numero chiamato",
    "Destinazione", "Secondi fatturati", "Addebito", "Chiamate precedenti",
    "Contesta un addebito",
    "Puoi contestare una fattura entro 30 giorni dalla sua emissione. Rispondiamo a ogni contestazione; una "
    "contestazione decisa a tuo favore viene accreditata sul tuo conto con una nota di credito.",
    "Fattura", "(oltre 30 giorni)", "Importo contestato ({currency})", "Che cosa non va", "Apri la contestazione",
    "Contestazione respinta", "{invoice} è una nota di credito: si può contestare solo una fattura.",
    "La fattura {invoice} è stata emessa il {date}, più di 30 giorni fa: le contestazioni sono accettate entro 30 "
    "giorni da una fattura (R19).",
    "L'importo contestato deve essere positivo e al massimo pari al totale della fattura {invoice}.",
    "Contestazione ricevuta",
    "La tua contestazione {dispute} della fattura {invoice} è aperta. Ti risponderemo; se sarà decisa a tuo favore, il "
    "tuo conto riceverà una nota di credito.",
    "Scarica tutto ciò che conserviamo sul tuo conto: le tue chiamate, le registrazioni del tuo conto e le tue fatture, "
    "in formato JSON (R32).",
    "Scarica i miei dati", "Cancella i miei dati personali",
    "Eliminiamo la chiave con cui sono conservati il tuo nome, il tuo indirizzo e i tuoi numeri di telefono, e "
    "rendiamo anonimi i numeri delle tue chiamate. Le tue fatture, i tuoi pagamenti e gli importi delle tue chiamate "
    "restano, come richiede la legge. Non si può annullare; le chiamate successive saranno conservate con una nuova "
    "chiave (R32).",
    "Digita il tuo numero di conto ({account_id}) per confermare", "Non cancellato",
    "Per confermare, digita esattamente il tuo numero di conto ({account_id}).", "I tuoi dati personali sono cancellati",
    "Il tuo nome, il tuo indirizzo e i tuoi numeri non possono più essere letti: {count} chiamate conservano solo "
    "importi e destinazioni. Le tue fatture e i tuoi pagamenti restano, come richiede la legge (R32).",
    "Estratti conto:", "Conto {account_id} · {currency} · mesi in {time_zone}", "Saldo iniziale", "Pagamenti",
    "Addebiti", "Saldo finale", "Per tipo", "Registrazioni", "Emesse questo mese", "Estratto conto non disponibile",
    "L'estratto conto di {month} non è disponibile: gli estratti conto coprono il mese corrente e i tre precedenti "
    "({months}) (R20).",
    "Accedi",
    "La sessione è scaduta o questa pagina richiede il tuo link al portale. Apri il link che ti ha inviato il tuo "
    "operatore o chiedine uno nuovo.",
    "Questo link non funziona", "Il link non è valido o è scaduto. Chiedine uno nuovo al tuo operatore.", "Non inviato",
    "Il modulo è scaduto; apri di nuovo la pagina.",
    "Conto non ancora disponibile", "Il tuo conto non è ancora pronto. Riprova tra qualche minuto.",
    "Fattura non trovata", "Il tuo conto non ha nessuna fattura {number}.",
    "Registrato", "Attivo", "Sospeso", "Bloccato per sospetta frode", "Cessato", "prepagato", "postpagato", "Mensile",
    "Intermedia", "Nota di credito", "In uscita", "In entrata", "Traffico", "Rettifica chiamata", "Pagamento",
    "Rimborso", "Storno bancario", "Canone", "Accredito canone", "Costo di recesso", "Rimborso del saldo",
    "Fattura (arrotondamenti e imposte)", "Accredito per contestazione", "Rettifica", "Costo cambio piano",
    "Chiedere la cancellazione dei miei dati personali",
    "Esaminiamo prima ogni richiesta e rispondiamo entro 30 giorni. Se la legge ci obbliga a conservare i suoi "
    "dati per ora (ad esempio un reclamo aperto o un credito in recupero), le spieghiamo il motivo.",
    "Richiesta ricevuta",
    "La sua richiesta {request} è stata ricevuta. Risponderemo entro il {date} (R32); questa pagina mostrerà la "
    "nostra risposta.",
    "La sua richiesta del {date} è in esame: risponderemo entro il {due}.",
    "I suoi dati personali sono stati cancellati il {date}.",
    "La sua richiesta del {date} è stata respinta il {answered}: {reason}",
    "Lo stato delle sue richieste non può essere mostrato ora; riprovi tra qualche minuto.",
    "Non è stato possibile inviare la sua richiesta; riprovi tra qualche minuto.",
    "Lingua", "Cambia lingua",
    "Lingua cambiata",
    "Le sue prossime fatture e queste pagine saranno in {language} tra qualche istante.",
    "Mese", "Mostra", "Chiamate in {month}: {count}, {amount} in totale.", "Scarica il mese (CSV)",
    "Nessuna chiamata in {month}.",
    "Le tue contestazioni", "Aperta il", "Decisione", "Accolta: una nota di credito di {amount}",
    "Respinta: nulla viene accreditato", "Nessuna contestazione per ora.",
)

_RU = (
    "Лицевой счёт", "Выписки", "Счета", "Звонки", "Претензии", "Мои данные", "лицевой счёт {account_id}", "Назад",
    "Ваш лицевой счёт", "Выписка за {month}",
    "Статус", "тариф {plan}", "(→ {plan} со следующего месяца)", "Баланс", "доступно средств", "задолженность",
    "кредитный лимит {amount}",
    "К оплате", "просрочено {amount}", "следующий срок оплаты {date}", "По вашим счетам ничего не нужно оплачивать.",
    "Последние платежи", "Дата", "Вид", "Сумма", "Нет платежей за последние четыре месяца.",
    "Номер", "Период", "Выставлен", "Итого", "Оплата", "Открыть", "PDF", "Оспорить", "Счетов пока нет.",
    "Оплачен {date}", "Корректировочный счёт", "Оплачен частично: к оплате {amount}",
    "Оплачен частично: к оплате {amount} до {date}", "Просрочен с {date}: к оплате {amount}", "Не оплачен",
    "Не оплачен: срок {date}",
    "Звонки, за которые начислена плата (сначала новые).", "Начало ({zone})", "Направление", "Вызываемый номер",
    "Направление вызова", "Тарифицировано, с", "Стоимость", "Более ранние звонки",
    "Оспорить начисление",
    "Вы можете оспорить счёт в течение 30 дней с даты его выставления. Мы отвечаем на каждую претензию; если претензия "
    "решена в вашу пользу, сумма зачисляется на ваш лицевой счёт корректировочным счётом.",
    "Счёт", "(более 30 дней)", "Оспариваемая сумма ({currency})", "Что не так", "Подать претензию",
    "Претензия отклонена", "{invoice} — корректировочный счёт: оспорить можно только счёт.",
    "Счёт {invoice} выставлен {date}, более 30 дней назад: претензии принимаются в течение 30 дней с даты счёта (R19).",
    "Оспариваемая сумма должна быть положительной и не больше итога счёта {invoice}.",
    "Претензия принята",
    "Ваша претензия {dispute} по счёту {invoice} открыта. Мы ответим на неё; если она будет решена в вашу пользу, на "
    "ваш лицевой счёт будет зачислена сумма по корректировочному счёту.",
    "Скачайте всё, что мы храним о вашем лицевом счёте: ваши звонки, проводки по счёту и ваши счета, в формате JSON "
    "(R32).",
    "Скачать мои данные", "Удалить мои персональные данные",
    "Мы удаляем ключ, под которым хранятся ваше имя, адрес и номера телефонов, и обезличиваем номера в ваших звонках. "
    "Ваши счета, платежи и суммы звонков сохраняются, как того требует закон. Это действие необратимо; последующие "
    "звонки будут храниться под новым ключом (R32).",
    "Введите номер лицевого счёта ({account_id}) для подтверждения", "Не удалено",
    "Для подтверждения введите номер лицевого счёта ({account_id}) точно.", "Ваши персональные данные удалены",
    "Ваше имя, адрес и номера больше нельзя прочитать: у {count} звонков остались только суммы и направления. Ваши "
    "счета и платежи сохраняются, как того требует закон (R32).",
    "Выписки:", "Лицевой счёт {account_id} · {currency} · месяцы по времени {time_zone}", "Входящий остаток", "Платежи",
    "Начисления", "Исходящий остаток", "По видам", "Проводки", "Выставлено в этом месяце", "Выписка недоступна",
    "Выписка за {month} недоступна: выписки доступны за текущий месяц и три предыдущих ({months}) (R20).",
    "Войдите в портал",
    "Ваш сеанс завершён, или для этой страницы нужна ваша ссылка на портал. Откройте ссылку, которую прислал оператор, "
    "или попросите новую.",
    "Эта ссылка не работает", "Ссылка недействительна или устарела. Попросите у оператора новую.", "Не отправлено",
    "Срок действия формы истёк; откройте страницу снова.",
    "Лицевой счёт пока недоступен", "Ваш лицевой счёт ещё не готов. Повторите попытку через несколько минут.",
    "Счёт не найден", "У вашего лицевого счёта нет счёта {number}.",
    "Зарегистрирован", "Активен", "Приостановлен", "Заблокирован по подозрению в мошенничестве", "Расторгнут",
    "авансовая система", "кредитная система", "Ежемесячный", "Промежуточный", "Корректировочный счёт", "Исходящий",
    "Входящий", "Услуги связи", "Исправление звонка", "Платёж", "Возврат", "Отзыв платежа банком",
    "Абонентская плата", "Возврат абонентской платы", "Плата за расторжение", "Возврат остатка",
    "Счёт (округление и налоги)", "Зачёт по претензии", "Корректировка", "Плата за смену тарифа",
    "Запросить удаление моих персональных данных",
    "Мы сначала рассматриваем каждый запрос и отвечаем на него в течение 30 дней. Если закон обязывает нас пока "
    "хранить ваши данные (например, при открытой претензии или взыскании задолженности), мы сообщим причину.",
    "Запрос получен",
    "Ваш запрос {request} получен. Мы ответим на него не позднее {date} (R32); ответ появится на этой странице.",
    "Ваш запрос от {date} рассматривается: мы ответим на него не позднее {due}.",
    "Ваши персональные данные удалены {date}.",
    "Ваш запрос от {date} отклонён {answered}: {reason}",
    "Состояние ваших запросов сейчас не может быть показано; повторите попытку через несколько минут.",
    "Не удалось отправить ваш запрос; повторите попытку через несколько минут.",
    "Язык", "Сменить язык",
    "Язык изменён",
    "Ваши следующие счета и эти страницы через несколько мгновений будут на языке: {language}.",
    "Месяц", "Показать", "Звонков за {month}: {count}, на сумму {amount}.", "Скачать месяц (CSV)",
    "Звонков за {month} нет.",
    "Ваши претензии", "Открыта", "Решение", "Удовлетворена: кредит-нота на {amount}",
    "Отклонена: ничего не зачисляется", "Претензий пока нет.",
)

PORTAL_WORDS = Catalogue(MESSAGES, {"fr": _FR, "de": _DE, "nl": _NL, "es": _ES, "it": _IT, "ru": _RU})


def language_choices(current: str) -> list[tuple[str, str]]:
    """(locale, its name in itself) for each language the portal has words for: in the region of
    the customer's locale where Babel knows that pairing (a Belgian customer picks between
    fr_BE, nl_BE, de_BE...), else the language alone; the current one among them."""
    from babel import Locale, UnknownLocaleError

    region = current.replace("-", "_").partition("_")[2]
    out = []
    for language in PORTAL_WORDS.languages:
        value = f"{language}_{region}" if region else language
        try:
            Locale.parse(value)
        except (ValueError, UnknownLocaleError):
            value = language
        name = language_name(value) or value
        out.append((value, name[:1].upper() + name[1:]))  # "français (Belgique)" as a choice: "Français (Belgique)"
    if current not in {v for v, _ in out}:  # one with no words of its own (ja_JP): English words, its formats
        out.append((current, language_name(current) or current))
    return out


def language_name(locale: str) -> str:
    """``fr_BE`` in its own words, as a sentence names it: "français (Belgique)"."""
    from babel import Locale, UnknownLocaleError

    try:
        return Locale.parse(locale).get_display_name(locale) or ""
    except (ValueError, UnknownLocaleError):
        return ""
