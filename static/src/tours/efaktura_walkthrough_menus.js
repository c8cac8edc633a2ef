import { registry } from "@web/core/registry";

const tours = registry.category("web_tour.tours");

// Follow a link in this tab (the url widget opens a new one, which a tour cannot follow).
function followLink() {
    window.location.href = this.anchor.href;
}

// The README walk-through as written ("What make demo shows"), without developer mode, through the menus it names,
// with Odoo in English or in Norwegian. Ingrid Hansen reads Norwegian, as in the demo: her SMS, consent page and
// BankID are in Bokmål whatever the user's language.
const MENUS = {
    en: {
        invoicing: "Invoicing",
        testPhone: "Test phone and inbox",
        sandbox: "Sandbox nettbank",
        registry: "JTTA registry",
        mailboxes: "Mailboxes",
        yesToAll: "Yes to all",
    },
    nb: {
        invoicing: "Fakturering",
        testPhone: "Testtelefon og -innboks",
        sandbox: "Sandkasse-nettbank",
        registry: "JTTA-register",
        mailboxes: "Innbokser",
        yesToAll: "Ja takk til alle",
    },
};

// Apps menu > Invoicing > the eFaktura menu, as a person opens it.
const openEfakturaMenu = (m) => [
    {
        content: "Open the apps menu",
        trigger: ".o_navbar_apps_menu button",
        run: "click",
    },
    {
        content: "Invoicing",
        trigger: `.o_app:contains(${m.invoicing})`,
        run: "click",
    },
    {
        content: "Invoicing > eFaktura",
        trigger: ".o_menu_sections button:contains(eFaktura)",
        run: "click",
    },
];

const walkthrough = (m) => [
    {
        content: "No developer mode",
        trigger: ".o_main_navbar:not(:has(.o_debug_manager))",
    },
    ...openEfakturaMenu(m),
    {
        content: "eFaktura > Test phone and inbox",
        trigger: `.dropdown-menu .dropdown-item:contains(${m.testPhone})`,
        run: "click",
    },
    {
        content: "Open Ingrid's SMS",
        trigger: ".o_list_renderer .o_data_row:contains(Ingrid Hansen):contains(SMS) td[name=recipient]",
        run: "click",
    },
    {
        content: "Her SMS, in Norwegian",
        trigger: ".o_form_view div[name=body_text]:contains(Godkjenn med BankID)",
    },
    {
        content: "Click its link",
        trigger: ".o_form_view div[name=link_url] a[href*='/efaktura/consent/']",
        run: followLink,
        expectUnloadPage: true,
    },
    {
        content: "Her consent page, in Norwegian: Accept with BankID",
        trigger: ".o_efaktura_consent button[name=accept]:contains(Godta med BankID)",
        run: "click",
        expectUnloadPage: true,
    },
    {
        content: "Pick Ingrid Hansen in the BankID simulator",
        trigger: "label:contains(Ingrid Hansen) input[name=person]",
        run: "click",
    },
    {
        content: "Approve",
        trigger: "button[name=action][value=approve]",
        run: "click",
        expectUnloadPage: true,
    },
    {
        content: "She has not said yes to all issuers: the page tells her, in Norwegian, how to switch eFaktura on",
        trigger: ".o_efaktura_consent h1:contains(Slå på eFaktura)",
    },
    {
        content: "Back in Odoo",
        trigger: ".o_efaktura_consent button[name=check]:contains(Jeg har gjort det)",
        run() {
            window.location.href = "/odoo";
        },
        expectUnloadPage: true,
    },
    ...openEfakturaMenu(m),
    {
        content: "eFaktura > Sandbox nettbank > JTTA registry",
        trigger: `.dropdown-menu:has(.dropdown-header:contains(${m.sandbox})) .dropdown-item:contains(${m.registry})`,
        run: "click",
    },
    {
        // The registry's own row (it has a Yes-to-all column): not a row of the list it replaces, which a slow
        // server may still show.
        content: "Her entry",
        trigger: ".o_list_renderer .o_data_row:contains(Ingrid Hansen):has(td[name=jtta]) td[name=name]",
        run: "click",
    },
    {
        content: "Tick Yes to all",
        trigger: `.o_form_view .o_inner_group:has(label:contains(${m.yesToAll})) div[name=jtta] input:not(:checked)`,
        run: "click",
    },
    {
        content: "Save",
        trigger: ".o_form_view .o_form_button_save",
        run: "click",
    },
    {
        content: "Saved",
        trigger: ".o_form_readonly, .o_form_saved",
    },
    {
        content: "Invoicing > eFaktura",
        trigger: ".o_menu_sections button:contains(eFaktura)",
        run: "click",
    },
    {
        content: "eFaktura > Test phone and inbox",
        trigger: `.dropdown-menu .dropdown-item:contains(${m.testPhone})`,
        run: "click",
    },
    {
        content: "Open Ingrid's SMS again",
        trigger: ".o_list_renderer .o_data_row:contains(Ingrid Hansen):contains(SMS) td[name=recipient]",
        run: "click",
    },
    {
        content: "Click its link",
        trigger: ".o_form_view div[name=link_url] a[href*='/efaktura/consent/']",
        run: followLink,
        expectUnloadPage: true,
    },
    {
        content: "Jeg har gjort det",
        trigger: ".o_efaktura_consent button[name=check]:contains(Jeg har gjort det)",
        run: "click",
        expectUnloadPage: true,
    },
    {
        content: "She is found: thank you, in Norwegian",
        trigger: ".o_efaktura_consent h1:contains(Takk)",
        run() {
            window.location.href = "/odoo";
        },
        expectUnloadPage: true,
    },
    ...openEfakturaMenu(m),
    {
        content: "eFaktura > Sandbox nettbank > Mailboxes",
        trigger: `.dropdown-menu:has(.dropdown-header:contains(${m.sandbox})) .dropdown-item:contains(${m.mailboxes})`,
        run: "click",
    },
    {
        content: "Her mailbox in the sandbox nettbank",
        trigger: ".o_list_renderer .o_group_header:contains(Ingrid Hansen)",
        run: "click",
    },
    {
        content: "Her invoice, delivered to her nettbank",
        trigger: ".o_list_renderer .o_data_row:contains(Ingrid Hansen):contains(nettbank)",
    },
];

tours.add("l10n_no_efaktura_b2c_walkthrough_en", { url: "/odoo", steps: () => walkthrough(MENUS.en) });
tours.add("l10n_no_efaktura_b2c_walkthrough_menus_nb", { url: "/odoo", steps: () => walkthrough(MENUS.nb) });
