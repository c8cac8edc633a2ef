import { registry } from "@web/core/registry";

const tours = registry.category("web_tour.tours");

function box(element) {
    const range = document.createRange();
    range.selectNodeContents(element);
    return range.getBoundingClientRect();
}

function intersect(a, b) {
    return a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1;
}

// Every label of the eFaktura B2C settings keeps clear of its field, and every checkbox sits on its label's line.
function checkLayout() {
    const problems = [];
    const settings = document.querySelectorAll("[id^=efaktura_b2c_]");
    for (const label of [...settings].flatMap((s) => [...s.querySelectorAll(".row > label.o_form_label")])) {
        for (const field of label.parentElement.querySelectorAll(":scope > .o_field_widget")) {
            if (intersect(box(label), field.getBoundingClientRect())) {
                problems.push(`"${label.textContent.trim()}" runs into its value`);
            }
        }
    }
    for (const checkbox of [...settings].flatMap((s) => [...s.querySelectorAll(".o_field_boolean input")])) {
        const row = checkbox.closest(".d-flex");
        const label = row && row.querySelector(":scope > label");
        if (!label) {
            continue;
        }
        const a = checkbox.getBoundingClientRect();
        const b = box(label);
        const middle = (a.top + a.bottom) / 2;
        if (middle < b.top || middle > b.bottom || a.left > b.left) {
            problems.push(`the checkbox of "${label.textContent.trim()}" is not beside its label`);
        }
    }
    if (problems.length) {
        throw new Error(problems.join("; "));
    }
}

tours.add("l10n_no_efaktura_b2c_settings_layout", {
    url: "/odoo/settings#account",
    steps: () => [
        {
            content: "Test mode: labels clear of their values, checkboxes beside their labels",
            trigger: "#efaktura_b2c_issuer div[name=efaktura_issuer_org_number] input",
            run: checkLayout,
        },
        {
            content: "Production",
            trigger: "#efaktura_b2c_enable div[name=efaktura_mode] input[data-value=enabled]",
            run: "click",
        },
        {
            content: "Visma AutoInvoice",
            trigger: "#efaktura_b2c_production div[name=efaktura_maventa_company_uuid] input",
            run: checkLayout,
        },
        {
            content: "MPS direct",
            trigger: "#efaktura_b2c_production div[name=efaktura_production_route] input[data-value=mps]",
            run: "click",
        },
        {
            content: "MPS direct and Vipps",
            trigger: "#efaktura_b2c_production div[name=efaktura_mps_endpoint] input",
            run: checkLayout,
        },
        {
            content: "Discard",
            trigger: ".o_control_panel .o_form_button_cancel",
            run: "click",
        },
        {
            content: "Still in Test mode",
            trigger: "#efaktura_b2c_enable div[name=efaktura_mode] input[data-value=test]:checked",
        },
    ],
});
