import { registry } from "@web/core/registry";

const tours = registry.category("web_tour.tours");

// The README walk-through in Norwegian, without developer mode: the test phone keeps Ingrid's SMS with its
// link, and her consent request offers "Open consent page" in Test mode.
tours.add("l10n_no_efaktura_b2c_walkthrough_nb", {
    steps: () => [
        {
            content: "The test phone and inbox, in Norwegian",
            trigger: ".o_breadcrumb:contains(Testtelefon og -innboks)",
        },
        {
            content: "Open Ingrid's SMS",
            trigger: ".o_list_renderer .o_data_row:contains(Ingrid Hansen):contains(SMS) td[name=recipient]",
            run: "click",
        },
        {
            content: "The SMS is in Norwegian and its link can be clicked",
            trigger: ".o_form_view div[name=body_text]:contains(Godkjenn med BankID)",
        },
        {
            content: "The link to the consent page",
            trigger: ".o_form_view div[name=link_url] a[href*='/efaktura/consent/']",
        },
    ],
});

tours.add("l10n_no_efaktura_b2c_consent_record_nb", {
    steps: () => [
        {
            content: "Test mode: the consent request opens the customer's page",
            trigger: ".o_form_view button[name=action_open_consent_page]:contains(Åpne samtykkesiden)",
        },
    ],
});

// Ingrid, whose language is Norwegian, on her phone: the consent page and the BankID simulator speak Norwegian.
tours.add("l10n_no_efaktura_b2c_consent_nb", {
    steps: () => [
        {
            content: "The consent page in Norwegian, with the company's logo and no Sign in link",
            trigger: ".o_efaktura_consent:has(#efaktura_company_logo):not(:has(a[href*='/web/login']))",
        },
        {
            content: "Godta med BankID",
            trigger: ".o_efaktura_consent button[name=accept]:contains(Godta med BankID)",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "The BankID simulator in Norwegian",
            trigger: "legend:contains(Testperson)",
        },
        {
            content: "Choose Ingrid Hansen",
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
            content: "No eFaktura yet: the page tells her, in Norwegian, how to switch it on",
            trigger: ".o_efaktura_consent h1:contains(Slå på eFaktura)",
        },
    ],
});
