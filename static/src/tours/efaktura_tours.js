import { registry } from "@web/core/registry";

const tours = registry.category("web_tour.tours");

// A bookkeeper switches eFaktura B2C on in the settings and sets the consent deadline.
tours.add("l10n_no_efaktura_b2c_settings", {
    url: "/odoo/settings#account",
    steps: () => [
        {
            content: "Switch eFaktura B2C on, in Test mode",
            trigger: "#efaktura_b2c_enable div[name=efaktura_mode] input[data-value=test]:not(:checked)",
            run: "click",
        },
        {
            content: "Give customers 5 days to approve",
            trigger: "#efaktura_b2c_enable div[name=efaktura_consent_days] input",
            run: "edit 5",
        },
        {
            content: "The checklist shows what is left to do",
            trigger: "#efaktura_b2c_checklist .fa-times-circle:visible",
        },
        {
            content: "Save: the settings are applied and the page reloads",
            trigger: ".o_control_panel .o_form_button_save",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "Saved: the organisation number was taken from the company",
            trigger: "#efaktura_b2c_issuer div[name=efaktura_issuer_org_number] input:value(123456785)",
        },
    ],
});

// A bookkeeper sends an invoice to a consumer who has no eFaktura yet: it waits for consent.
tours.add("l10n_no_efaktura_b2c_send_invoice", {
    steps: () => [
        {
            content: "The invoice shows which channel it would take",
            trigger: ".o_notebook a.nav-link[name=efaktura_b2c]",
            run: "click",
        },
        {
            content: "Preview of the chain",
            trigger: "div[name=efaktura_preview_channel]:contains(eFaktura)",
        },
        {
            content: "Send by eFaktura B2C",
            trigger: ".o_form_statusbar button[name=action_efaktura_send]",
            run: "click",
        },
        {
            content: "The invoice now waits for the customer's consent",
            trigger: ".o_field_badge[name=efaktura_state]:contains(Awaiting consent)",
        },
    ],
});

// The consumer, on a phone, opens the link from the SMS and approves with BankID (the sandbox simulator).
tours.add("l10n_no_efaktura_b2c_consent_phone", {
    steps: () => [
        {
            content: "The consent page names the company and offers BankID",
            trigger: ".o_efaktura_consent h1:contains(as eFaktura)",
        },
        {
            content: "Accept with BankID",
            trigger: ".o_efaktura_consent button[name=accept]",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "Choose Ingrid Hansen in the BankID simulator",
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
            content: "No eFaktura yet: the page tells her how to switch it on (eFaktura 2.0)",
            trigger: ".o_efaktura_consent h1:contains(Slå på eFaktura)",
        },
    ],
});

// Later, with eFaktura switched on in her nettbank, she opens the link again and says so.
tours.add("l10n_no_efaktura_b2c_consent_done", {
    steps: () => [
        {
            content: "I have done it",
            trigger: ".o_efaktura_consent button[name=check]",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "Thank you",
            trigger: ".o_efaktura_consent h1:contains(Thank you)",
        },
    ],
});

// Back in Odoo, the invoice is delivered to the customer's nettbank.
tours.add("l10n_no_efaktura_b2c_delivered", {
    steps: () => [
        {
            content: "The invoice is sent",
            trigger: ".o_field_badge[name=efaktura_state]:contains(Sent)",
        },
        {
            content: "Open its eFaktura tab",
            trigger: ".o_notebook a.nav-link[name=efaktura_b2c]",
            run: "click",
        },
        {
            content: "Delivered by eFaktura in the nettbank",
            trigger: ".o_field_widget[name=efaktura_delivery_ids]:contains(nettbank)",
        },
    ],
});

// A bookkeeper makes an invoice for a consumer from scratch and sends it, the way a person does it.
tours.add("l10n_no_efaktura_b2c_new_invoice", {
    url: "/odoo/action-account.action_move_out_invoice_type",
    steps: () => [
        {
            content: "New invoice",
            trigger: ".o_control_panel_main_buttons .o_list_button_add",
            run: "click",
        },
        {
            content: "The eFaktura tab of a new invoice opens",
            trigger: ".o_notebook a.nav-link[name=efaktura_b2c]",
            run: "click",
        },
        {
            content: "It says the route is decided on posting",
            trigger: "div[name=efaktura_preview_reason]:contains(decided when the invoice is posted)",
        },
        {
            content: "Back to the lines",
            trigger: ".o_notebook a.nav-link[name=invoice_tab]",
            run: "click",
        },
        {
            content: "Customer",
            trigger: "div.o_field_widget.o_field_res_partner_many2one[name=partner_id] div input",
            run: "edit Ola Nordmann",
        },
        {
            content: "Pick the consumer",
            trigger: ".ui-menu-item a:contains(Ola Nordmann)",
            run: "click",
        },
        // Odoo 19 hides the Product column of an invoice's lines unless Sales is installed; a person shows it from
        // the optional columns (18 shows it already, and the box is ticked).
        {
            content: "The optional columns of the lines",
            trigger: "div[name=invoice_line_ids] .o_optional_columns_dropdown_toggle",
            run: "click",
        },
        {
            content: "Show the Product column",
            trigger: ".o-dropdown-item input[name=product_id]",
            run(actions) {
                if (!this.anchor.checked) {
                    actions.click();
                }
            },
        },
        {
            content: "The Product column is shown",
            trigger: ".o-dropdown-item input[name=product_id]:checked",
        },
        {
            content: "Close the optional columns",
            trigger: "div[name=invoice_line_ids] .o_optional_columns_dropdown_toggle",
            run: "click",
        },
        {
            content: "Add a line",
            trigger: "div[name=invoice_line_ids] .o_field_x2many_list_row_add a:contains(Add a line)",
            run: "click",
        },
        {
            content: "Product",
            trigger: "div[name=invoice_line_ids] .o_selected_row .o_list_many2one[name=product_id] input",
            run: "edit Elektrikertime",
        },
        {
            content: "Pick the product",
            trigger: ".ui-menu-item-wrapper:contains(Elektrikertime)",
            run: "click",
        },
        {
            content: "The line has its price",
            trigger: "div[name=invoice_line_ids] .o_data_row td[name=price_subtotal]:contains(750)",
        },
        {
            content: "Confirm",
            trigger: ".o_form_statusbar button[name=action_post]",
            run: "click",
        },
        {
            content: "Posted",
            trigger: ".o_statusbar_status button.o_arrow_button_current:contains(Posted)",
        },
        {
            content: "Send",
            trigger: ".o_form_statusbar button[name=action_invoice_sent]",
            run: "click",
        },
        {
            content: "eFaktura B2C is the sending method chosen for a consumer",
            trigger: ".modal div[name=sending_method_checkboxes] input[type=checkbox]:checked",
        },
        {
            content: "Send",
            trigger: ".modal button[name=action_send_and_print]",
            run: "click",
        },
        {
            content: "Delivered to the nettbank",
            trigger: ".o_field_badge[name=efaktura_state]:contains(Sent)",
        },
        {
            content: "Open the eFaktura tab",
            trigger: ".o_notebook a.nav-link[name=efaktura_b2c]",
            run: "click",
        },
        {
            content: "The outbox row: eFaktura in the nettbank",
            trigger: ".o_field_widget[name=efaktura_delivery_ids]:contains(nettbank)",
        },
    ],
});
